/**
 * Local binary pattern image, identical to scikit-image 0.19.3
 * `local_binary_pattern(img, P, R, method='default')` (skimage/feature/_texture.pyx + _shared/interpolation.pxd).
 *
 * Hand-written because no npm library implements skimage's LBP variant (circular bilinear samples,
 * constant-0 border), and training and serving must share one implementation.
 *
 * Exactness notes (from skimage's source):
 * - sample offsets: rp = round(-R sin(2 pi p / P), 5), cp = round(R cos(2 pi p / P), 5) (numpy round = rint(x*1e5)/1e5);
 * - each sample is bilinear in double precision with floor/ceil corners; out-of-image corners read 0
 *   (mode 'C', cval 0) -- so border pixels see dark neighbours;
 * - bit p is set when sample - centre >= 0, weight 2^p; the result is an integer 0 .. 2^P - 1 stored as a float.
 * Pure: no I/O.
 */

/** numpy rint: round half to even. */
function rint(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** numpy.round(x, decimals) for decimals >= 0. */
function numpyRound(x: number, decimals: number): number {
  const scale = 10 ** decimals;
  return rint(x * scale) / scale;
}

export function lbpSampleOffsets(P: number, R: number): { rowOffsets: Float64Array; colOffsets: Float64Array } {
  // skimage declares R as a C float: keep that precision.
  const r32 = Math.fround(R);
  const rowOffsets = new Float64Array(P);
  const colOffsets = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    const angle = (2 * Math.PI * p) / P;
    rowOffsets[p] = numpyRound(-r32 * Math.sin(angle), 5);
    colOffsets[p] = numpyRound(r32 * Math.cos(angle), 5);
  }
  return { rowOffsets, colOffsets };
}

export function localBinaryPattern(grey: Float32Array | Float64Array, width: number, height: number, P = 24, R = 3): Float32Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`image size must be positive integers, got ${width}x${height}`);
  }
  if (grey.length !== width * height) {
    throw new Error(`image has ${grey.length} pixels, expected ${width}x${height}=${width * height}`);
  }
  // Codes go up to 2^P - 1 and are returned as float32, exact only up to 2^24.
  if (!Number.isInteger(P) || P < 1 || P > 24) throw new Error(`P must be an integer 1..24, got ${P}`);
  if (!(R > 0)) throw new Error(`R must be > 0, got ${R}`);
  const { rowOffsets, colOffsets } = lbpSampleOffsets(P, R);
  // Zero-padded copy: out-of-image corners read 0 exactly like skimage's constant mode, without bounds tests.
  const pad = Math.ceil(R) + 1;
  const pw = width + 2 * pad;
  const padded = new Float64Array(pw * (height + 2 * pad));
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) padded[(r + pad) * pw + c + pad] = grey[r * width + c] as number;
  }
  // The sample position r + rp (and its floor and fraction) depends only on (row, p); c + cp only on (column, p).
  // Tabulating them keeps the per-pixel arithmetic identical to skimage's (same doubles, same order).
  const rowMin = new Int32Array(P * height);
  const rowMax = new Int32Array(P * height);
  const rowFrac = new Float64Array(P * height);
  for (let p = 0; p < P; p++) {
    for (let r = 0; r < height; r++) {
      const sr = r + (rowOffsets[p] as number);
      const minr = Math.floor(sr);
      rowMin[p * height + r] = (minr + pad) * pw;
      rowMax[p * height + r] = (Math.ceil(sr) + pad) * pw;
      rowFrac[p * height + r] = sr - minr;
    }
  }
  const colMin = new Int32Array(P * width);
  const colMax = new Int32Array(P * width);
  const colFrac = new Float64Array(P * width);
  for (let p = 0; p < P; p++) {
    for (let c = 0; c < width; c++) {
      const sc = c + (colOffsets[p] as number);
      const minc = Math.floor(sc);
      colMin[p * width + c] = minc + pad;
      colMax[p * width + c] = Math.ceil(sc) + pad;
      colFrac[p * width + c] = sc - minc;
    }
  }
  // Loop p outermost so each pass streams through memory with row constants hoisted; the arithmetic per
  // sample is unchanged (same doubles, same order), and codes sum exact powers of two in any order.
  const codes = new Float64Array(width * height);
  let weight = 1;
  for (let p = 0; p < P; p++, weight *= 2) {
    const cMin = colMin.subarray(p * width, (p + 1) * width);
    const cMax = colMax.subarray(p * width, (p + 1) * width);
    const cFrac = colFrac.subarray(p * width, (p + 1) * width);
    for (let r = 0; r < height; r++) {
      const top0 = rowMin[p * height + r] as number;
      const bot0 = rowMax[p * height + r] as number;
      const dr = rowFrac[p * height + r] as number;
      const rowBase = r * width;
      for (let c = 0; c < width; c++) {
        const c0 = cMin[c] as number;
        const c1 = cMax[c] as number;
        const dc = cFrac[c] as number;
        const top = (1 - dc) * (padded[top0 + c0] as number) + dc * (padded[top0 + c1] as number);
        const bottom = (1 - dc) * (padded[bot0 + c0] as number) + dc * (padded[bot0 + c1] as number);
        const sample = (1 - dr) * top + dr * bottom;
        if (sample - (grey[rowBase + c] as number) >= 0) codes[rowBase + c] = (codes[rowBase + c] as number) + weight;
      }
    }
  }
  const out = Float32Array.from(codes);
  return out;
}
