/**
 * Random access to an instance's bytes without holding them all in memory: validation only needs
 * the header and a few element headers (Pixel Data fragment items), not megabytes of pixels.
 * Pure: the file-backed variant is given its read function by the caller (I/O stays at the edge).
 */
export interface ByteSource {
  readonly size: number;
  /** Bytes [pos, pos + len), clipped at size. May be a view into shared memory: do not modify. */
  read(pos: number, len: number): Uint8Array;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: (pos, len) => bytes.subarray(pos, Math.min(bytes.byteLength, pos + len)) };
}

/**
 * Reads through a small page cache; `readAt(target, position)` fills `target` from `position` and
 * returns the byte count (e.g. fs.readSync on an open descriptor).
 */
export function pagedSource(size: number, readAt: (target: Uint8Array, position: number) => number, pageSize = 64 * 1024): ByteSource {
  const cache = new Map<number, Uint8Array>();
  const page = (index: number): Uint8Array => {
    let p = cache.get(index);
    if (!p) {
      const start = index * pageSize;
      const buf = new Uint8Array(Math.min(pageSize, size - start));
      let filled = 0;
      while (filled < buf.length) {
        const n = readAt(buf.subarray(filled), start + filled);
        if (n <= 0) break;
        filled += n;
      }
      p = buf.subarray(0, filled);
      if (cache.size >= 4) cache.delete(cache.keys().next().value as number);
      cache.set(index, p);
    }
    return p;
  };
  return {
    size,
    read(pos, len) {
      const end = Math.min(size, pos + len);
      if (end <= pos) return new Uint8Array(0);
      const first = Math.floor(pos / pageSize);
      const last = Math.floor((end - 1) / pageSize);
      if (first === last) return page(first).subarray(pos - first * pageSize, end - first * pageSize);
      const out = new Uint8Array(end - pos);
      for (let i = first; i <= last; i++) {
        const p = page(i);
        const from = Math.max(pos, i * pageSize);
        const to = Math.min(end, i * pageSize + p.length);
        out.set(p.subarray(from - i * pageSize, to - i * pageSize), from - pos);
      }
      return out;
    },
  };
}
