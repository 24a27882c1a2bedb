/**
 * Working grid for the vertebral level finder: the CT volume downsampled in-plane to about
 * 1.4 mm pixels (bone anatomy does not need finer detail, and it keeps whole-series level
 * finding fast), plus the per-slice body outline. Slices are never merged: slice k of the grid
 * is slice k of the CtVolume. Pure: no I/O.
 */
import { labelComponents } from './morphology.ts';
import type { CtVolume } from './types.ts';

export interface WorkGrid {
  rows: number;
  columns: number;
  slices: number;
  /** Block-averaged HU, clamped to >= -1024 so padding cannot drag bone edges down. */
  hu: Int16Array;
  /** Pixel size of the grid [row, column] in mm. */
  pixelMm: [number, number];
  /** Head-foot position of each slice in mm (head first, as in CtVolume). */
  zMm: number[];
  /** |mean distance between slices| in mm. */
  sliceMm: number;
  /** +1 when increasing row index points posterior (LPS +y), -1 when it points anterior. */
  posteriorRowSign: 1 | -1;
  /** +1 when increasing column index points to the patient's left (LPS +x), -1 when to the right. */
  leftColumnSign: 1 | -1;
  /** Per-slice body (largest soft-tissue component, the table excluded). */
  body: BodyOutline[];
  /** 1 inside the body of that slice. Slice-major like hu. */
  bodyMask: Uint8Array;
}

export interface BodyOutline {
  found: boolean;
  centreRow: number;
  centreCol: number;
  minRow: number;
  maxRow: number;
  minCol: number;
  maxCol: number;
  areaPx: number;
}

/** Soft tissue threshold for the body outline: well above air and lung, below fat (-190..-30). */
const BODY_HU = -400;
const TARGET_PIXEL_MM = 1.4;

export class LevelInputError extends Error {}

/** Axial check: rows must run along patient x and columns along patient y (either sign). */
export function posteriorRowSignOf(iop: number[]): 1 | -1 {
  if (iop.length !== 6 || iop.some((v) => !Number.isFinite(v))) {
    throw new LevelInputError('image orientation is missing or malformed');
  }
  const rowX = Math.abs(iop[0]!);
  const colY = iop[4]!;
  if (rowX < 0.9 || Math.abs(colY) < 0.9) {
    throw new LevelInputError('series is not axial: vertebral levels are only found on axial CT');
  }
  return colY > 0 ? 1 : -1;
}

export function buildWorkGrid(volume: CtVolume): WorkGrid {
  const { rows, columns, slices } = volume;
  if (slices < 1 || rows < 16 || columns < 16) throw new LevelInputError('volume too small for level finding');
  if (volume.hu.length !== rows * columns * slices) throw new LevelInputError('volume pixel count does not match its dimensions');
  const [rowMm, colMm] = volume.pixelSpacingMm;
  if (!(rowMm > 0) || !(colMm > 0)) throw new LevelInputError('pixel spacing missing or not positive');
  const posteriorRowSign = posteriorRowSignOf(volume.imageOrientationPatient);
  if (volume.sliceZMm.length !== slices) throw new LevelInputError('slice positions do not match the slice count');
  // Counting from the first rib down and from the last rib up needs head-first order (patient z
  // grows towards the head in DICOM LPS).
  if (slices > 1 && !(volume.sliceZMm[0]! > volume.sliceZMm[slices - 1]!)) {
    throw new LevelInputError('slices are not ordered head first');
  }

  const fr = Math.max(1, Math.round(TARGET_PIXEL_MM / rowMm));
  const fc = Math.max(1, Math.round(TARGET_PIXEL_MM / colMm));
  const gRows = Math.floor(rows / fr);
  const gCols = Math.floor(columns / fc);
  const plane = gRows * gCols;
  const hu = new Int16Array(plane * slices);
  const src = volume.hu;
  const n = fr * fc;
  // Sequential pass over the source rows into a row accumulator (cache-friendly).
  const acc = new Int32Array(gCols);
  for (let k = 0; k < slices; k++) {
    const srcBase = k * rows * columns;
    const dstBase = k * plane;
    for (let r = 0; r < gRows; r++) {
      acc.fill(0);
      for (let dr = 0; dr < fr; dr++) {
        const rowBase = srcBase + (r * fr + dr) * columns;
        for (let c = 0, sc = 0; c < gCols; c++) {
          let sum = 0;
          for (let dc = 0; dc < fc; dc++, sc++) {
            const v = src[rowBase + sc]!;
            sum += v < -1024 ? -1024 : v;
          }
          acc[c]! += sum;
        }
      }
      const out = dstBase + r * gCols;
      for (let c = 0; c < gCols; c++) hu[out + c] = Math.round(acc[c]! / n);
    }
  }

  const zMm = volume.sliceZMm.slice();
  const sliceMm = slices > 1 ? Math.abs(zMm[slices - 1]! - zMm[0]!) / (slices - 1) : volume.sliceSpacingMm || 1;
  const bodyMask = new Uint8Array(plane * slices);
  const body: BodyOutline[] = [];
  // The outline only needs ~3 mm precision (it excludes the table and sets the search box), so it
  // is labelled on every other pixel when the grid is fine, which halves the level finder's time.
  const step = Math.min(gRows, gCols) >= 128 && rowMm * fr < 2 ? 2 : 1;
  const inside = new Uint8Array(Math.ceil(gRows / step) * Math.ceil(gCols / step));
  for (let k = 0; k < slices; k++) body.push(bodyOutline(hu, k, gRows, gCols, step, bodyMask, inside));
  return {
    rows: gRows,
    columns: gCols,
    slices,
    hu,
    pixelMm: [rowMm * fr, colMm * fc],
    zMm,
    sliceMm,
    posteriorRowSign,
    leftColumnSign: volume.imageOrientationPatient[0]! >= 0 ? 1 : -1,
    body,
    bodyMask,
  };
}

/**
 * Largest 4-connected component above BODY_HU in one slice, labelled on a grid sampled every
 * `step` pixels; writes it (back at full grid resolution) into bodyMask.
 */
function bodyOutline(
  hu: Int16Array,
  k: number,
  rows: number,
  cols: number,
  step: number,
  bodyMask: Uint8Array,
  inside: Uint8Array,
): BodyOutline {
  const base = k * rows * cols;
  const cr = Math.ceil(rows / step);
  const cc = Math.ceil(cols / step);
  for (let r = 0; r < cr; r++) {
    for (let c = 0; c < cc; c++) inside[r * cc + c] = hu[base + r * step * cols + c * step]! > BODY_HU ? 1 : 0;
  }
  const { labels: label, sizes } = labelComponents(inside, cr, cc);
  // First largest label wins a tie (scan order), as largestComponent does.
  let best = -1;
  let bestArea = 0;
  for (let l = 1; l < sizes.length; l++) {
    if (sizes[l]! > bestArea) {
      bestArea = sizes[l]!;
      best = l;
    }
  }
  const out: BodyOutline = { found: false, centreRow: 0, centreCol: 0, minRow: 0, maxRow: 0, minCol: 0, maxCol: 0, areaPx: 0 };
  if (best < 0) return out;
  let sr = 0;
  let sc = 0;
  let area = 0;
  let minRow = rows;
  let maxRow = -1;
  let minCol = cols;
  let maxCol = -1;
  for (let r = 0; r < rows; r++) {
    const lr = Math.min(cr - 1, Math.round(r / step)) * cc;
    for (let c = 0; c < cols; c++) {
      if (label[lr + Math.min(cc - 1, Math.round(c / step))] !== best) continue;
      bodyMask[base + r * cols + c] = 1;
      sr += r;
      sc += c;
      area++;
      if (r < minRow) minRow = r;
      if (r > maxRow) maxRow = r;
      if (c < minCol) minCol = c;
      if (c > maxCol) maxCol = c;
    }
  }
  return { found: area > 0, centreRow: sr / area, centreCol: sc / area, minRow, maxRow, minCol, maxCol, areaPx: area };
}
