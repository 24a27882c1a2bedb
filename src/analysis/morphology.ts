/**
 * Small 2-D binary morphology on row-major Uint8Array masks (0/1), in physical units (mm) so that
 * radii mean the same on 0.7 mm and 3 mm pixels. Hand-written: no maintained npm package offers
 * anisotropic Euclidean distance transforms / labelling on plain typed arrays without a browser canvas.
 */

export interface Grid {
  rows: number;
  columns: number;
  /** [row spacing, column spacing] in mm. */
  spacingMm: [number, number];
}

/**
 * Squared Euclidean distance (mm²) from every pixel to the nearest pixel where `isSource` is 1
 * (Felzenszwalb & Huttenlocher's exact separable transform; spacing-aware).
 */
export function squaredDistanceTo(isSource: Uint8Array, g: Grid): Float64Array {
  const { rows, columns } = g;
  const [sy, sx] = g.spacingMm;
  const INF = 1e20;
  const d = new Float64Array(rows * columns);
  for (let i = 0; i < d.length; i++) d[i] = isSource[i] ? 0 : INF;
  const n = Math.max(rows, columns);
  const f = new Float64Array(n);
  const out = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const pass = (len: number, step2: number) => {
    // 1-D lower envelope of parabolas; positions scaled by the spacing (step2 = spacing²).
    // Hot loop (runs rows + columns times per transform): no closures, no allocation.
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    for (let q = 1; q < len; q++) {
      const fq = f[q]! + step2 * q * q;
      let p = v[k]!;
      let s = (fq - (f[p]! + step2 * p * p)) / (2 * step2 * (q - p));
      // z[0] = -Infinity, so this stops at k = 0 at the latest.
      while (s <= z[k]!) {
        k--;
        p = v[k]!;
        s = (fq - (f[p]! + step2 * p * p)) / (2 * step2 * (q - p));
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < len; q++) {
      while (z[k + 1]! < q) k++;
      const p = v[k]!;
      out[q] = step2 * (q - p) * (q - p) + f[p]!;
    }
  };
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) f[c] = d[r * columns + c]!;
    pass(columns, sx * sx);
    for (let c = 0; c < columns; c++) d[r * columns + c] = out[c]!;
  }
  for (let c = 0; c < columns; c++) {
    for (let r = 0; r < rows; r++) f[r] = d[r * columns + c]!;
    pass(rows, sy * sy);
    for (let r = 0; r < rows; r++) d[r * columns + c] = out[r]!;
  }
  return d;
}

/** Pixels within `radiusMm` of the mask. */
export function dilate(mask: Uint8Array, g: Grid, radiusMm: number): Uint8Array {
  const d = squaredDistanceTo(mask, g);
  const r2 = radiusMm * radiusMm;
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = d[i]! <= r2 ? 1 : 0;
  return out;
}

/** Pixels farther than `radiusMm` from the outside of the mask (image border counts as inside). */
export function erode(mask: Uint8Array, g: Grid, radiusMm: number): Uint8Array {
  return invert(dilate(invert(mask), g, radiusMm));
}

export function open(mask: Uint8Array, g: Grid, radiusMm: number): Uint8Array {
  return dilate(erode(mask, g, radiusMm), g, radiusMm);
}

export function close(mask: Uint8Array, g: Grid, radiusMm: number): Uint8Array {
  return erode(dilate(mask, g, radiusMm), g, radiusMm);
}

export function invert(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = mask[i] ? 0 : 1;
  return out;
}

export function and(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < out.length; i++) out[i] = a[i]! & b[i]!;
  return out;
}

export function andNot(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < out.length; i++) out[i] = a[i] && !b[i] ? 1 : 0;
  return out;
}

/** Number of set (non-zero) pixels. */
export function count(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i] ? 1 : 0;
  return n;
}

/** 4-connected component labels (0 = background) and the size of each label (index = label). */
export function labelComponents(mask: Uint8Array, rows: number, columns: number): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(mask.length);
  const sizes: number[] = [0];
  const queue = new Int32Array(mask.length);
  let next = 1;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    labels[start] = next;
    while (head < tail) {
      const i = queue[head++]!;
      const r = (i / columns) | 0;
      const c = i - r * columns;
      if (c > 0 && mask[i - 1] && !labels[i - 1]) (labels[i - 1] = next), (queue[tail++] = i - 1);
      if (c < columns - 1 && mask[i + 1] && !labels[i + 1]) (labels[i + 1] = next), (queue[tail++] = i + 1);
      if (r > 0 && mask[i - columns] && !labels[i - columns]) (labels[i - columns] = next), (queue[tail++] = i - columns);
      if (r < rows - 1 && mask[i + columns] && !labels[i + columns]) (labels[i + columns] = next), (queue[tail++] = i + columns);
    }
    sizes.push(tail);
    next++;
  }
  return { labels, sizes };
}

/** The largest 4-connected component (empty mask if none). */
export function largestComponent(mask: Uint8Array, rows: number, columns: number): Uint8Array {
  const { labels, sizes } = labelComponents(mask, rows, columns);
  let best = 0;
  for (let l = 1; l < sizes.length; l++) if (sizes[l]! > (sizes[best] ?? 0)) best = l;
  const out = new Uint8Array(mask.length);
  if (best === 0) return out;
  for (let i = 0; i < out.length; i++) out[i] = labels[i] === best ? 1 : 0;
  return out;
}

/** Components of `mask` that contain at least one pixel of `seeds`. */
export function componentsTouching(mask: Uint8Array, seeds: Uint8Array, rows: number, columns: number): Uint8Array {
  const { labels } = labelComponents(mask, rows, columns);
  const keep = new Set<number>();
  for (let i = 0; i < mask.length; i++) if (seeds[i] && labels[i]) keep.add(labels[i]!);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = keep.has(labels[i]!) ? 1 : 0;
  return out;
}

/** Fills background regions not connected to the image border (lungs, bowel gas inside the body...). */
export function fillHoles(mask: Uint8Array, rows: number, columns: number): Uint8Array {
  const outside = new Uint8Array(mask.length);
  const queue = new Int32Array(mask.length);
  let tail = 0;
  const seed = (i: number) => {
    if (!mask[i] && !outside[i]) (outside[i] = 1), (queue[tail++] = i);
  };
  for (let c = 0; c < columns; c++) seed(c), seed((rows - 1) * columns + c);
  for (let r = 0; r < rows; r++) seed(r * columns), seed(r * columns + columns - 1);
  let head = 0;
  while (head < tail) {
    const i = queue[head++]!;
    const r = (i / columns) | 0;
    const c = i - r * columns;
    if (c > 0) seed(i - 1);
    if (c < columns - 1) seed(i + 1);
    if (r > 0) seed(i - columns);
    if (r < rows - 1) seed(i + columns);
  }
  return invert(outside);
}
