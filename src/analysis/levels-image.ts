/**
 * Small image helpers for the level finder (box filter, chamfer distance, median). Pure.
 */

export function median(values: number[]): number {
  const s = values.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Mean over a (2*hr+1) x (2*hc+1) box, via an integral image. */
export function boxFilter(src: Float32Array, rows: number, cols: number, hr: number, hc: number): Float32Array {
  const integral = new Float64Array((rows + 1) * (cols + 1));
  for (let r = 0; r < rows; r++) {
    let rowSum = 0;
    for (let c = 0; c < cols; c++) {
      rowSum += src[r * cols + c]!;
      integral[(r + 1) * (cols + 1) + c + 1] = integral[r * (cols + 1) + c + 1]! + rowSum;
    }
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const ra = Math.max(0, r - hr);
    const rb = Math.min(rows, r + hr + 1);
    for (let c = 0; c < cols; c++) {
      const ca = Math.max(0, c - hc);
      const cb = Math.min(cols, c + hc + 1);
      const s =
        integral[rb * (cols + 1) + cb]! - integral[ra * (cols + 1) + cb]! - integral[rb * (cols + 1) + ca]! + integral[ra * (cols + 1) + ca]!;
      out[r * cols + c] = s / ((rb - ra) * (cb - ca));
    }
  }
  return out;
}

/** Two-pass chamfer distance (mm) from each foreground pixel to the nearest background pixel or the edge. */
export function chamferDistanceMm(mask: Uint8Array, rows: number, cols: number, rowMm: number, colMm: number): Float32Array {
  const diag = Math.hypot(rowMm, colMm);
  const d = new Float32Array(rows * cols);
  const inf = 1e9;
  for (let i = 0; i < d.length; i++) d[i] = mask[i] ? inf : 0;
  const at = (r: number, c: number): number => (r < 0 || c < 0 || r >= rows || c >= cols ? 0 : d[r * cols + c]!);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (!mask[i]) continue;
      d[i] = Math.min(d[i]!, at(r - 1, c) + rowMm, at(r, c - 1) + colMm, at(r - 1, c - 1) + diag, at(r - 1, c + 1) + diag);
    }
  }
  for (let r = rows - 1; r >= 0; r--) {
    for (let c = cols - 1; c >= 0; c--) {
      const i = r * cols + c;
      if (!mask[i]) continue;
      d[i] = Math.min(d[i]!, at(r + 1, c) + rowMm, at(r, c + 1) + colMm, at(r + 1, c + 1) + diag, at(r + 1, c - 1) + diag);
    }
  }
  return d;
}
