import { Writable } from 'node:stream';

/**
 * Streaming multipart/related (RFC 2387) splitter for STOW-RS bodies: each part's body is written to a
 * Writable chosen per part (a spool file), so a multi-GB study never sits in memory.
 *
 * Hand-written because no maintained npm parser fits: busboy and @hapi/pez are multipart/form-data only
 * (parts without Content-Disposition are buffered as fields), dicer is unmaintained with an unfixed DoS
 * (CVE-2022-24434), and @remix-run/multipart-parser buffers each part in memory.
 */

export class MultipartError extends Error {}

export interface MediaType {
  /** Lower-cased type/subtype, e.g. "multipart/related". */
  mediaType: string;
  /** Parameter names lower-cased, values unquoted. */
  params: Record<string, string>;
}

/** Parses a Content-Type header value (RFC 9110 media-type with optional quoted-string parameters). */
export function parseMediaType(header: string | undefined): MediaType | null {
  if (!header) return null;
  const match = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*/.exec(header);
  if (!match?.[1]) return null;
  const params: Record<string, string> = {};
  const paramRe = /;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)\s*/gy;
  paramRe.lastIndex = match[0].length;
  let p: RegExpExecArray | null;
  while ((p = paramRe.exec(header)) !== null) {
    const name = (p[1] ?? '').toLowerCase();
    let value = p[2] ?? '';
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    params[name] = value;
    if (paramRe.lastIndex >= header.length) break;
  }
  return { mediaType: match[1].toLowerCase(), params };
}

export interface ReceivedPart {
  index: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Bytes of the part body. */
  size: number;
  /** The Writable returned by onPart, ended (and closed, for files) once the parser finishes. */
  sink: Writable;
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Write the HTTP body into this; `parts` lists the parts seen. The stream's 'finish' fires after every
 * part sink has closed. Errors (no closing boundary, oversized part headers) surface as stream errors.
 */
export class MultipartRelatedSplitter extends Writable {
  readonly parts: ReceivedPart[] = [];
  private readonly delimiter: Buffer;
  private buffered: Buffer;
  private state: State = 'preamble';
  private current: ReceivedPart | null = null;
  private readonly sinkClosed: Promise<void>[] = [];

  constructor(
    boundary: string,
    private readonly onPart: (headers: Record<string, string>, index: number) => Writable,
    private readonly maxHeaderBytes = 16 * 1024,
  ) {
    super();
    if (!boundary || boundary.length > 70) throw new MultipartError('multipart boundary must be 1-70 characters (RFC 2046)');
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
    // Treat the body as if preceded by CRLF so a boundary on the very first line matches like the others.
    this.buffered = Buffer.from(CRLF);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.drainBuffer().then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.state !== 'done') {
      this.current?.sink.destroy();
      callback(new MultipartError('multipart body ended before the closing boundary'));
      return;
    }
    Promise.all(this.sinkClosed).then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.current && !this.current.sink.writableEnded) this.current.sink.destroy();
    callback(error);
  }

  private async drainBuffer(): Promise<void> {
    for (;;) {
      switch (this.state) {
        case 'done':
          this.buffered = Buffer.alloc(0); // epilogue: ignored
          return;
        case 'preamble': {
          const at = this.buffered.indexOf(this.delimiter);
          if (at < 0) {
            this.buffered = this.buffered.subarray(Math.max(0, this.buffered.length - this.delimiter.length + 1));
            return;
          }
          this.buffered = this.buffered.subarray(at + this.delimiter.length);
          this.state = 'after-delimiter';
          break;
        }
        case 'after-delimiter': {
          if (this.buffered.length < 2) return;
          if (this.buffered[0] === 0x2d && this.buffered[1] === 0x2d) {
            this.state = 'done';
            break;
          }
          const eol = this.buffered.indexOf(CRLF);
          if (eol < 0) {
            if (this.buffered.length > 1024) throw new MultipartError('malformed multipart boundary line');
            return;
          }
          if (!/^[ \t]*$/.test(this.buffered.subarray(0, eol).toString('latin1'))) {
            throw new MultipartError('malformed multipart boundary line');
          }
          this.buffered = this.buffered.subarray(eol + 2);
          this.state = 'headers';
          break;
        }
        case 'headers': {
          let headerText: string;
          if (this.buffered.length >= 2 && this.buffered[0] === 0x0d && this.buffered[1] === 0x0a) {
            headerText = ''; // a part with no headers
            this.buffered = this.buffered.subarray(2);
          } else {
            const end = this.buffered.indexOf(HEADER_END);
            if (end < 0) {
              if (this.buffered.length > this.maxHeaderBytes) throw new MultipartError(`part headers exceed ${this.maxHeaderBytes} bytes`);
              return;
            }
            headerText = this.buffered.subarray(0, end).toString('latin1');
            this.buffered = this.buffered.subarray(end + 4);
          }
          const headers: Record<string, string> = {};
          for (const line of headerText.split('\r\n')) {
            if (!line) continue;
            const colon = line.indexOf(':');
            if (colon <= 0) throw new MultipartError('malformed part header line');
            headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
          }
          const index = this.parts.length;
          const sink = this.onPart(headers, index);
          this.sinkClosed.push(
            new Promise<void>((resolve) => {
              sink.once('close', resolve);
              sink.once('error', () => resolve());
            }),
          );
          this.current = { index, headers, size: 0, sink };
          this.parts.push(this.current);
          this.state = 'body';
          break;
        }
        case 'body': {
          const part = this.current;
          if (!part) throw new MultipartError('internal: body without part');
          const at = this.buffered.indexOf(this.delimiter);
          if (at < 0) {
            // Keep a tail that could be the start of a delimiter split across chunks.
            const safe = this.buffered.length - this.delimiter.length + 1;
            if (safe > 0) {
              await this.writeToSink(part, this.buffered.subarray(0, safe));
              this.buffered = this.buffered.subarray(safe);
            }
            return;
          }
          if (at > 0) await this.writeToSink(part, this.buffered.subarray(0, at));
          part.sink.end();
          this.current = null;
          this.buffered = this.buffered.subarray(at + this.delimiter.length);
          this.state = 'after-delimiter';
          break;
        }
      }
    }
  }

  private async writeToSink(part: ReceivedPart, bytes: Buffer): Promise<void> {
    part.size += bytes.length;
    // No copy needed: `bytes` views a chunk nobody mutates (we only slice and concat into new buffers).
    if (!part.sink.write(bytes)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          part.sink.off('drain', done);
          part.sink.off('error', done);
          part.sink.off('close', done);
          resolve();
        };
        part.sink.once('drain', done);
        part.sink.once('error', done);
        part.sink.once('close', done);
      });
    }
  }
}
