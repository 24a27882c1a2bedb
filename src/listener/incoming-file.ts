import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { newIncomingPath } from './spool.ts';

/**
 * Receives one instance into <spool>/.incoming through an fd we keep open.
 *
 * Instances up to `memoryLimit` are only collected in memory while they arrive; the caller writes and
 * fdatasyncs them in one go (acceptIncomingFile) while it validates the same bytes, so a typical CT slice
 * costs one write + one fdatasync on the thread pool and no read-back. Larger instances switch to
 * streaming writes as soon as they pass the limit (memory stays bounded; backpressure via 'drain').
 *
 * A write failure (ENOSPC, EIO) is recorded in `error` rather than thrown at whoever is piping in.
 */
export class IncomingFileWriter extends Writable {
  readonly path: string;
  error: Error | null = null;
  private fd: number | null;
  /** Non-null while the whole content is still in memory (nothing written to the file yet). */
  private chunks: Buffer[] | null = [];
  private collected = 0;
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
    try {
      this.fd = fs.openSync(this.path, 'w');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // .incoming was removed under the running service: recreate it rather than refuse until restart.
      fs.mkdirSync(path.dirname(this.path), { recursive: true });
      this.fd = fs.openSync(this.path, 'w');
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.chunks) {
      if (this.collected + chunk.length <= this.memoryLimit) {
        this.chunks.push(chunk);
        this.collected += chunk.length;
        return callback();
      }
      // Too big to keep: write what we have, then stream from here on.
      const pending = Buffer.concat(this.chunks, this.collected);
      this.chunks = null;
      this.writeToFile(pending, () => this.writeToFile(chunk, callback));
      return;
    }
    this.writeToFile(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // In memory-only mode the caller writes the file; when streaming, optionally give the fd back now.
    if (this.chunks || this.keepFdOpen || this.fd === null) return callback();
    const fd = this.fd;
    this.fd = null;
    fs.close(fd, (err) => {
      if (err && !this.error) this.error = err;
      callback();
    });
  }

  private writeToFile(bytes: Buffer, callback: () => void): void {
    if (this.error || this.fd === null) return callback(); // keep accepting (and dropping): refused at the end
    const fd = this.fd;
    let settle = (): void => undefined;
    this.inFlight = new Promise<void>((resolve) => (settle = resolve));
    const writeFrom = (offset: number): void => {
      fs.write(fd, bytes, offset, bytes.length - offset, null, (err, written) => {
        if (err) this.error = err;
        else if (offset + written < bytes.length) return writeFrom(offset + written);
        settle();
        callback();
      });
    };
    writeFrom(0);
  }

  /**
   * Hands over the file. Call once, after 'finish'. `bytes` is the complete content when it stayed in
   * memory; then `onDisk` is false and the caller writes it (acceptIncomingFile does). The caller owns
   * the fd (null when already closed) and the file from here on.
   */
  takeOver(): { path: string; fd: number | null; bytes: Buffer | null; onDisk: boolean; error: Error | null } {
    const fd = this.fd;
    this.fd = null;
    const bytes = this.chunks ? Buffer.concat(this.chunks, this.collected) : null;
    this.chunks = null;
    return { path: this.path, fd, bytes, onDisk: bytes === null, error: this.error };
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
