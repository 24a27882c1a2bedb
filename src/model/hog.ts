/**
 * HOG visualisation image, identical to scikit-image 0.19.3
 * `hog(img, orientations=8, pixels_per_cell=(16,16), cells_per_block=(1,1), visualize=True)[1]`
 * (skimage/feature/_hog.py + _hoghistogram.pyx + draw/_draw.pyx `_line`).
 *
 * Hand-written because no npm library reproduces skimage's exact HOG picture, and the model
 * channel must be the same in training (tensors made here) and serving (also made here).
 *
 * Exactness notes (all copied from skimage's source, not re-derived):
 * - gradients are central differences, zero on the first/last row and column;
 * - orientation = rad2deg(atan2(g_row, g_col)) mod 180 with numpy's float modulo; a pixel votes
 *   into bin i when 22.5*i <= orientation < 22.5*(i+1) (an orientation of exactly 180 votes nowhere);
 * - the cell sum is accumulated in float32 (`cdef float total` in skimage) and divided by 256;
 * - the picture uses the UNnormalised cell histograms (block normalisation only affects the
 *   feature vector, which we do not use);
 * - cells cover floor(H/16) x floor(W/16); the leftover right/bottom pixels get no line;
 * - each line is skimage's integer Bresenham from (int(cr - dc), int(cc + dr)) to (int(cr + dc), int(cc - dr)),
 *   radius 16//2 - 1 = 7, direction perpendicular to the bin's mid-angle.
 * Pure: no I/O.
 */

export const HOG_ORIENTATIONS = 8;
export const HOG_CELL_SIZE = 16;

/** Unnormalised per-cell orientation histograms, [cellRow][cellCol][orientation] flattened (float32 precision like skimage). */
export interface HogCellHistograms {
  cellRows: number;
  cellColumns: number;
  orientations: number;
  values: Float64Array;
}

/** numpy's float `%` (npy_divmod): result takes the divisor's sign; exact zero becomes +0. */
function numpyMod(a: number, b: number): number {
  let m = a % b;
  if (m !== 0) {
    if (b < 0 !== m < 0) m += b;
  } else {
    m = 0;
  }
  return m;
}

const RAD_TO_DEG = 180.0 / Math.PI; // numpy rad2deg multiplies by this same constant

export function hogCellHistograms(
  grey: Float32Array | Float64Array,
  width: number,
  height: number,
  orientations: number = HOG_ORIENTATIONS,
  cellSize: number = HOG_CELL_SIZE,
): HogCellHistograms {
  checkImage(grey, width, height);
  if (!Number.isInteger(orientations) || orientations < 1 || orientations > 127) throw new Error(`orientations must be an integer 1..127, got ${orientations}`);
  if (!Number.isInteger(cellSize) || cellSize < 2 || cellSize > Math.min(width, height)) throw new Error(`cell size must be an integer 2..${Math.min(width, height)}, got ${cellSize}`);
  const n = width * height;
  const magnitude = new Float64Array(n);
  const orientation = new Float64Array(n);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      const gRow = r === 0 || r === height - 1 ? 0 : (grey[i + width] as number) - (grey[i - width] as number);
      const gCol = c === 0 || c === width - 1 ? 0 : (grey[i + 1] as number) - (grey[i - 1] as number);
      // skimage uses np.hypot; for 8-bit grey the squares are exact, so sqrt gives the same double.
      magnitude[i] = Math.sqrt(gCol * gCol + gRow * gRow);
      orientation[i] = numpyMod(Math.atan2(gRow, gCol) * RAD_TO_DEG, 180);
    }
  }
  const cellRows = Math.floor(height / cellSize);
  const cellColumns = Math.floor(width / cellSize);
  const values = new Float64Array(cellRows * cellColumns * orientations);
  const binWidth = 180 / orientations;
  // Bin of each pixel (-1 = none), using skimage's test: end <= a < start with start = binWidth*(o+1), end = binWidth*o.
  const bin = new Int8Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const a = orientation[i] as number;
    for (let o = 0; o < orientations; o++) {
      if (a >= binWidth * o && a < binWidth * (o + 1)) {
        bin[i] = o;
        break;
      }
    }
  }
  const cellArea = cellSize * cellSize;
  const totals = new Float64Array(orientations);
  for (let cr = 0; cr < cellRows; cr++) {
    for (let cc = 0; cc < cellColumns; cc++) {
      totals.fill(0);
      // Row-major pixel order within the cell = skimage's per-bin summation order, so the
      // float32 rounding sequence per bin is the same.
      for (let y = cr * cellSize; y < (cr + 1) * cellSize; y++) {
        for (let x = cc * cellSize; x < (cc + 1) * cellSize; x++) {
          const i = y * width + x;
          const o = bin[i] as number;
          if (o < 0) continue;
          totals[o] = Math.fround((totals[o] as number) + (magnitude[i] as number)); // float32 accumulator, as skimage's cell_hog
        }
      }
      for (let o = 0; o < orientations; o++) {
        values[(cr * cellColumns + cc) * orientations + o] = Math.fround((totals[o] as number) / cellArea);
      }
    }
  }
  return { cellRows, cellColumns, orientations, values };
}

/** skimage.draw.line (integer Bresenham, both end points included), calling visit(row, col). */
export function bresenhamLine(r0: number, c0: number, r1: number, c1: number, visit: (r: number, c: number) => void): void {
  let r = r0;
  let c = c0;
  let dr = Math.abs(r1 - r0);
  let dc = Math.abs(c1 - c0);
  let sc = c1 - c > 0 ? 1 : -1;
  let sr = r1 - r > 0 ? 1 : -1;
  let steep = false;
  if (dr > dc) {
    steep = true;
    [c, r] = [r, c];
    [dc, dr] = [dr, dc];
    [sc, sr] = [sr, sc];
  }
  let d = 2 * dr - dc;
  for (let i = 0; i < dc; i++) {
    if (steep) visit(c, r);
    else visit(r, c);
    while (d >= 0) {
      r += sr;
      d -= 2 * dc;
    }
    c += sc;
    d += 2 * dr;
  }
  visit(r1, c1);
}

/** Draw the HOG picture from cell histograms (same size as the source image). */
export function drawHogVisualisation(hist: HogCellHistograms, width: number, height: number, cellSize: number = HOG_CELL_SIZE): Float64Array {
  const out = new Float64Array(width * height);
  const radius = Math.floor(cellSize / 2) - 1;
  const { orientations } = hist;
  const drArr: number[] = [];
  const dcArr: number[] = [];
  for (let o = 0; o < orientations; o++) {
    const mid = (Math.PI * (o + 0.5)) / orientations;
    drArr.push(radius * Math.sin(mid));
    dcArr.push(radius * Math.cos(mid));
  }
  const half = Math.floor(cellSize / 2);
  for (let r = 0; r < hist.cellRows; r++) {
    for (let c = 0; c < hist.cellColumns; c++) {
      const centreR = r * cellSize + half;
      const centreC = c * cellSize + half;
      for (let o = 0; o < orientations; o++) {
        const dr = drArr[o] as number;
        const dc = dcArr[o] as number;
        const v = hist.values[(r * hist.cellColumns + c) * orientations + o] as number;
        // Math.trunc = Python int() on a float.
        bresenhamLine(Math.trunc(centreR - dc), Math.trunc(centreC + dr), Math.trunc(centreR + dc), Math.trunc(centreC - dr), (rr, cc) => {
          out[rr * width + cc] = (out[rr * width + cc] as number) + v;
        });
      }
    }
  }
  return out;
}

/**
 * HOG visualisation of a grey image (row-major, width x height), 8 orientations, 16x16 cells.
 * Values are in grey-level units per pixel (not normalised); see channels.ts for model scaling.
 */
export function hogVisualisation(grey: Float32Array, width: number, height: number): Float32Array {
  const hist = hogCellHistograms(grey, width, height);
  return Float32Array.from(drawHogVisualisation(hist, width, height));
}

function checkImage(grey: ArrayLike<number>, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 3 || height < 3) {
    throw new Error(`image size must be integers >= 3, got ${width}x${height}`);
  }
  if (grey.length !== width * height) {
    throw new Error(`image has ${grey.length} pixels, expected ${width}x${height}=${width * height}`);
  }
}
