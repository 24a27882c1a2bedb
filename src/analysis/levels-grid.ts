/**
 * Working grid for the vertebral level finder: the CT volume downsampled in-plane to about
 * 1.4 mm pixels (bone anatomy does not need finer detail, and it keeps whole-series level
 * finding fast), plus the per-slice body outline. Slices are never merged: slice k of the grid
 * is slice k of the CtVolume. Pure: no I/O.
 */
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

  const fr = Math.max(1, Math.round(TARGET_PIXEL_MM / rowMm));
  const fc = Math.max(1, Math.round(TARGET_PIXEL_MM / colMm));
  const gRows = Math.floor(rows / fr);
  const gCols = Math.floor(columns / fc);
  const plane = gRows * gCols;
  const hu = new Int16Array(plane * slices);
  const src = volume.hu;
  const n = fr * fc;
  for (let k = 0; k < slices; k++) {
    const srcBase = k * rows * columns;
    const dstBase = k * plane;
    for (let r = 0; r < gRows; r++) {
      for (let c = 0; c < gCols; c++) {
        let sum = 0;
        for (let dr = 0; dr < fr; dr++) {
          const rowBase = srcBase + (r * fr + dr) * columns + c * fc;
          for (let dc = 0; dc < fc; dc++) {
            const v = src[rowBase + dc]!;
            sum += v < -1024 ? -1024 : v;
          }
        }
        hu[dstBase + r * gCols + c] = Math.round(sum / n);
      }
    }
  }

  const zMm = volume.sliceZMm.slice();
  const sliceMm = slices > 1 ? Math.abs(zMm[slices - 1]! - zMm[0]!) / (slices - 1) : volume.sliceSpacingMm || 1;
  const bodyMask = new Uint8Array(plane * slices);
  const body: BodyOutline[] = [];
  for (let k = 0; k < slices; k++) body.push(bodyOutline(hu, k, gRows, gCols, bodyMask));
  return {
    rows: gRows,
    columns: gCols,
    slices,
    hu,
    pixelMm: [rowMm * fr, colMm * fc],
    zMm,
    sliceMm,
    posteriorRowSign,
    body,
    bodyMask,
  };
}

/** Largest 4-connected component above BODY_HU in one slice; writes it into bodyMask. */
function bodyOutline(hu: Int16Array, k: number, rows: number, cols: number, bodyMask: Uint8Array): BodyOutline {
  const plane = rows * cols;
  const base = k * plane;
  const label = new Int32Array(plane);
  const stack = new Int32Array(plane);
  let best = -1;
  let bestArea = 0;
  let next = 0;
  for (let p = 0; p < plane; p++) {
    if (label[p] !== 0 || hu[base + p]! <= BODY_HU) continue;
    next++;
    let top = 0;
    stack[top++] = p;
    label[p] = next;
    let area = 0;
    while (top > 0) {
      const q = stack[--top]!;
      area++;
      const r = (q / cols) | 0;
      const c = q - r * cols;
      if (c > 0) top = visit(q - 1, top);
      if (c < cols - 1) top = visit(q + 1, top);
      if (r > 0) top = visit(q - cols, top);
      if (r < rows - 1) top = visit(q + cols, top);
    }
    if (area > bestArea) {
      bestArea = area;
      best = next;
    }
  }
  function visit(q: number, top: number): number {
    if (label[q] === 0 && hu[base + q]! > BODY_HU) {
      label[q] = next;
      stack[top++] = q;
    }
    return top;
  }
  const out: BodyOutline = { found: false, centreRow: 0, centreCol: 0, minRow: 0, maxRow: 0, minCol: 0, maxCol: 0, areaPx: 0 };
  if (best < 0) return out;
  let sr = 0;
  let sc = 0;
  let minRow = rows;
  let maxRow = -1;
  let minCol = cols;
  let maxCol = -1;
  for (let p = 0; p < plane; p++) {
    if (label[p] !== best) continue;
    bodyMask[base + p] = 1;
    const r = (p / cols) | 0;
    const c = p - r * cols;
    sr += r;
    sc += c;
    if (r < minRow) minRow = r;
    if (r > maxRow) maxRow = r;
    if (c < minCol) minCol = c;
    if (c > maxCol) maxCol = c;
  }
  return { found: true, centreRow: sr / bestArea, centreCol: sc / bestArea, minRow, maxRow, minCol, maxCol, areaPx: bestArea };
}
