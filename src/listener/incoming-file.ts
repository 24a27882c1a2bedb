import fs from 'node:fs';
import { Writable } from 'node:stream';
import { newIncomingPath } from './spool.ts';

/**
 * Receives one instance into <spool>/.incoming: writes go straight to an fd we keep open, so after the
 * last byte the same fd can be fdatasync'ed (no re-open), and instances up to `memoryLimit` are also
 * kept in memory so validation needs no read-back. Both save thread-pool round trips per instance,
 * which is what bounds ingest when the sender waits for every response.
 *
 * A write failure (ENOSPC, EIO) is recorded in `error` rather than thrown at whoever is piping in.
 */
export class IncomingFileWriter extends Writable {
  readonly path: string;
  error: Error | null = null;
  private fd: number | null;
  private chunks: Buffer[] | null = [];
  private collected = 0;
  private size = 0;
  /** Settles when the fs.write in flight (if any) has completed: the fd must not be closed under it. */
  private inFlight: Promise<void> = Promise.resolve();

  private readonly memoryLimit: number;
  private readonly keepFdOpen: boolean;

  /**
   * `memoryLimit` 0 and `keepFdOpen` false suit STOW-RS, where one request may hold thousands of parts
   * until the body is complete: neither memory nor descriptors may grow with the part count.
   */
  constructor(dataDir: string, opts: { memoryLimit?: number; keepFdOpen?: boolean } = {}) {
    super({ highWaterMark: 256 * 1024 });
    this.memoryLimit = opts.memoryLimit ?? 4 * 1024 * 1024;
    this.keepFdOpen = opts.keepFdOpen ?? true;
    if (this.memoryLimit === 0) this.chunks = null;
    this.path = newIncomingPath(dataDir);
    // Synchronous open: one cheap syscall, and the writer is usable immediately (callers are sync).
    this.fd = fs.openSync(this.path, 'w');
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.keepFdOpen || this.fd === null) return callback();
    const fd = this.fd;
    this.fd = null;
    fs.close(fd, (err) => {
      if (err && !this.error) this.error = err;
      callback();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.chunks) {
      this.collected += chunk.length;
      if (this.collected <= this.memoryLimit) this.chunks.push(chunk);
      else this.chunks = null; // too big to keep: validation will read the file instead
    }
    if (this.error || this.fd === null) return callback();
    const fd = this.fd;
    let settle = (): void => undefined;
    this.inFlight = new Promise<void>((resolve) => (settle = resolve));
    const writeAll = (offset: number): void => {
      fs.write(fd, chunk, offset, chunk.length - offset, null, (err, written) => {
        if (err) {
          this.error = err;
        } else if (offset + written < chunk.length) {
          return writeAll(offset + written);
        }
        settle();
        callback(); // after an error: keep accepting (and dropping) bytes, the refusal comes at the end
      });
    };
    writeAll(0);
  }

  /** Bytes written so far. */
  get bytesReceived(): number {
    return this.size;
  }

  /**
   * Hands over the open descriptor and, when small enough, the complete content. Call once, after
   * 'finish'. The caller then owns the fd (flush + close it) and the file.
   */
  takeOver(): { path: string; fd: number | null; bytes: Buffer | null; error: Error | null } {
    const fd = this.fd;
    this.fd = null;
    const bytes = this.chunks ? Buffer.concat(this.chunks, this.collected) : null;
    this.chunks = null;
    return { path: this.path, fd, bytes, error: this.error };
  }

  /** Drops a transfer that will not be committed: closes the fd and removes the file. */
  async discard(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    this.chunks = null;
    if (!this.destroyed) this.destroy();
    await this.inFlight;
    if (fd !== null) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    await fs.promises.rm(this.path, { force: true });
  }
}
