/**
 * Small 2-D binary-mask operations (4-connectivity, like scipy.ndimage's default cross structure),
 * used to make fat masks on the cohort's 8-bit images. Hand-written: a few dozen lines, and the
 * npm image libraries on offer work on RGBA canvases rather than typed 0/1 masks.
 * Pure: no I/O.
 */

/** Label 4-connected components of mask (0/1). Returns labels (0 = background, 1..count) and sizes (index = label). */
export function labelComponents(mask: Uint8Array, width: number, height: number): { labels: Int32Array; count: number; sizes: number[] } {
  const labels = new Int32Array(width * height);
  const sizes: number[] = [0];
  const stack = new Int32Array(width * height);
  let count = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    count++;
    let size = 0;
    let top = 0;
    stack[top++] = start;
    labels[start] = count;
    while (top > 0) {
      const i = stack[--top] as number;
      size++;
      const r = (i / width) | 0;
      const c = i - r * width;
      if (c > 0 && mask[i - 1] && !labels[i - 1]) { labels[i - 1] = count; stack[top++] = i - 1; }
      if (c < width - 1 && mask[i + 1] && !labels[i + 1]) { labels[i + 1] = count; stack[top++] = i + 1; }
      if (r > 0 && mask[i - width] && !labels[i - width]) { labels[i - width] = count; stack[top++] = i - width; }
      if (r < height - 1 && mask[i + width] && !labels[i + width]) { labels[i + width] = count; stack[top++] = i + width; }
    }
    sizes.push(size);
  }
  return { labels, count, sizes };
}

/** Keep only the largest 4-connected component (empty mask stays empty). */
export function largestComponent(mask: Uint8Array, width: number, height: number): Uint8Array {
  const { labels, count, sizes } = labelComponents(mask, width, height);
  const out = new Uint8Array(mask.length);
  if (count === 0) return out;
  let best = 1;
  for (let l = 2; l <= count; l++) if ((sizes[l] as number) > (sizes[best] as number)) best = l;
  for (let i = 0; i < out.length; i++) out[i] = labels[i] === best ? 1 : 0;
  return out;
}

/** Fill holes: every background pixel not 4-connected to the image border becomes foreground (scipy binary_fill_holes). */
export function fillHoles(mask: Uint8Array, width: number, height: number): Uint8Array {
  const outside = new Uint8Array(mask.length);
  const stack: number[] = [];
  const push = (i: number): void => {
    if (!mask[i] && !outside[i]) { outside[i] = 1; stack.push(i); }
  };
  for (let c = 0; c < width; c++) { push(c); push((height - 1) * width + c); }
  for (let r = 0; r < height; r++) { push(r * width); push(r * width + width - 1); }
  while (stack.length > 0) {
    const i = stack.pop() as number;
    const r = (i / width) | 0;
    const c = i - r * width;
    if (c > 0) push(i - 1);
    if (c < width - 1) push(i + 1);
    if (r > 0) push(i - width);
    if (r < height - 1) push(i + width);
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = outside[i] ? 0 : 1;
  return out;
}

/**
 * City-block distance (in pixels) from each foreground pixel to the nearest background pixel,
 * counting outside the image as background (so a pixel on the border has distance 1).
 * Foreground pixels with distance <= k are exactly those removed by k iterations of scipy's binary_erosion.
 */
export function cityBlockDepth(mask: Uint8Array, width: number, height: number): Int32Array {
  const big = width + height;
  const d = new Int32Array(mask.length);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      if (!mask[i]) { d[i] = 0; continue; }
      const up = r > 0 ? (d[i - width] as number) : 0;
      const left = c > 0 ? (d[i - 1] as number) : 0;
      d[i] = Math.min(up, left, big) + 1;
    }
  }
  for (let r = height - 1; r >= 0; r--) {
    for (let c = width - 1; c >= 0; c--) {
      const i = r * width + c;
      if (!mask[i]) continue;
      const down = r < height - 1 ? (d[i + width] as number) : 0;
      const right = c < width - 1 ? (d[i + 1] as number) : 0;
      d[i] = Math.min(d[i] as number, down + 1, right + 1);
    }
  }
  return d;
}
