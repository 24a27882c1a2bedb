/**
 * The "standardised 500 x 400" T11 model input from a DICOM slice (HU), made to look like the cohort's
 * T11 images the model was trained on (../shared/data/lf-dlrn-bc/images/t11).
 *
 * Crop rule (the paper does not give one; derived from the 185 cohort train images):
 * - Scale: a fixed physical pixel size, STANDARD_PIXEL_MM = 0.78 mm. The cohort crops are not size-normalised
 *   (body width varies 354..468 px, 5th..95th percentile), i.e. larger patients look larger, so we keep
 *   physical scale too. 0.78 mm puts a typical ~32 cm lower-thorax width at the cohort median of 410 px
 *   (and is the pixel size of a 512 matrix at a 400 mm field of view). Only if the body would not fit in the
 *   frame is the pixel size increased (with a warning) so that the whole body stays in view.
 * - Position: the centre of the body's bounding box goes to output (column 247.5, row 224), the cohort medians
 *   (body centred left-right; posterior skin near the bottom edge as in the cohort); a tall body is moved
 *   up/down only as far as needed to keep all of it in the frame (4 px margin).
 * - Orientation: as the canonical volume (anterior at the top, patient's right on the image left), which
 *   is how the cohort images are displayed.
 * - Window: the cohort's calibrated window COHORT_WINDOW_HU = [-200, +10] HU -> 0..255, rounded to integers
 *   like the cohort's 8-bit images. Outside the source image / padding reads as air (-1000 HU).
 * - No smoothing or slab averaging: on chest-ct-1 (1.25 mm slices) the noise in fat after windowing is
 *   8.4 grey levels vs 9.4..11.5 in the cohort JPEGs, already alike (averaging to 5 mm would halve it).
 * - Fat mask (option fatMask):
 *   'as-training' (default): the standardised grey image goes through exactly the cohort pipeline
 *     (cohort-image.ts cohortFatMasks), i.e. the same code that made the training tensors' fat channel
 *     (models/make-tensors.ts), so the model sees the mask it was trained with;
 *   'segmentation': the body-composition segmentation's subcutaneous-fat mask (TissueMasks.subcutaneousFat),
 *     resampled with the same mapping (bilinear, >= 0.5). Use it only with a model trained on such masks.
 * Pure: no I/O.
 */
import type { TissueSlice } from '../analysis/tissue.ts';
import type { TissueMasks } from '../analysis/types.ts';
import { buildModelChannels, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH } from './channels.ts';
import { COHORT_AIR_HU, COHORT_PIXEL_MM, cohortFatMasks, huToCohortGrey } from './cohort-image.ts';

export type FatMaskSource = 'as-training' | 'segmentation';

export const STANDARD_PIXEL_MM = COHORT_PIXEL_MM;
/** Where the body bounding-box centre lands in the output (pixel-centre coordinates), cohort medians. */
export const STANDARD_BODY_CENTRE: { column: number; row: number } = { column: 247.5, row: 224 };
/** Keep at least this many pixels between the body and the frame edge when the body has to be shrunk to fit. */
const FIT_MARGIN_PX = 4;

/** A HU slice with its pixel spacing: the same shape the tissue segmentation takes. */
export type HuSlice = TissueSlice;

export interface StandardisedT11 {
  width: number;
  height: number;
  /** 0..255 integers (as float) */
  grey: Float32Array;
  /** 0/1 subcutaneous fat */
  satMask: Uint8Array;
  fatMaskSource: FatMaskSource;
  /** Output pixel size used (mm). */
  pixelMm: number;
  /** Source (row, column) of output pixel (0, 0) and the source pixels per output pixel along rows/columns. */
  mapping: { originRow: number; originColumn: number; rowStep: number; columnStep: number };
  warnings: string[];
}

function bodyBox(body: Uint8Array, rows: number, columns: number): { r0: number; r1: number; c0: number; c1: number } | null {
  let r0 = rows;
  let r1 = -1;
  let c0 = columns;
  let c1 = -1;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      if (!body[r * columns + c]) continue;
      if (r < r0) r0 = r;
      if (r > r1) r1 = r;
      if (c < c0) c0 = c;
      if (c > c1) c1 = c;
    }
  }
  return r1 < 0 ? null : { r0, r1, c0, c1 };
}

/** Bilinear sample with a fill value outside the grid. */
function sampleBilinear(values: ArrayLike<number>, rows: number, columns: number, r: number, c: number, fill: number, isFill?: (i: number) => boolean): number {
  const r0 = Math.floor(r);
  const c0 = Math.floor(c);
  const tr = r - r0;
  const tc = c - c0;
  const at = (rr: number, cc: number): number => {
    if (rr < 0 || rr >= rows || cc < 0 || cc >= columns) return fill;
    const i = rr * columns + cc;
    return isFill?.(i) ? fill : (values[i] as number);
  };
  const top = at(r0, c0) * (1 - tc) + at(r0, c0 + 1) * tc;
  const bottom = at(r0 + 1, c0) * (1 - tc) + at(r0 + 1, c0 + 1) * tc;
  return top * (1 - tr) + bottom * tr;
}

/**
 * Standardise a T11 slice to the cohort-like 500 x 400 image and fat mask. `masks` are the tissue masks of the
 * same slice: their body outline places the crop (and their SAT mask is used with fatMask 'segmentation').
 */
export function standardiseT11Slice(slice: HuSlice, masks: TissueMasks, options: { pixelMm?: number; fatMask?: FatMaskSource } = {}): StandardisedT11 {
  const pixelMm = options.pixelMm ?? STANDARD_PIXEL_MM;
  const fatMaskSource = options.fatMask ?? 'as-training';
  const { rows, columns, hu } = slice;
  if (hu.length !== rows * columns) throw new Error(`slice has ${hu.length} pixels, expected ${rows}x${columns}`);
  if (masks.rows !== rows || masks.columns !== columns) throw new Error(`masks are ${masks.rows}x${masks.columns}, slice is ${rows}x${columns}`);
  const [sy, sx] = slice.pixelSpacingMm;
  if (!(sy > 0 && sx > 0)) throw new Error(`pixel spacing must be positive, got ${sy}\\${sx}`);
  if (!(pixelMm > 0)) throw new Error(`output pixel size must be positive, got ${pixelMm}`);
  const box = bodyBox(masks.body, rows, columns);
  if (!box) throw new Error('no body on the slice: cannot place the model crop');
  const warnings: string[] = [];
  const W = MODEL_INPUT_WIDTH;
  const H = MODEL_INPUT_HEIGHT;
  const bodyWmm = (box.c1 - box.c0 + 1) * sx;
  const bodyHmm = (box.r1 - box.r0 + 1) * sy;
  // Largest pixel size at which the body (plus margin) still fits in the frame at all.
  const fitW = bodyWmm / (W - 2 * FIT_MARGIN_PX);
  const fitH = bodyHmm / (H - 2 * FIT_MARGIN_PX);
  let p = pixelMm;
  if (Math.max(fitW, fitH) > p) {
    p = Math.max(fitW, fitH);
    warnings.push(`body (${bodyWmm.toFixed(0)} x ${bodyHmm.toFixed(0)} mm) larger than the standard frame: pixel size raised from ${pixelMm} to ${p.toFixed(3)} mm`);
  }
  // Target centre = cohort median, moved only as far as needed to keep the whole body in the frame.
  const halfWpx = bodyWmm / p / 2;
  const halfHpx = bodyHmm / p / 2;
  const clamp = (v: number, lo: number, hi: number): number => (lo > hi ? (lo + hi) / 2 : Math.min(hi, Math.max(lo, v)));
  const targetColumn = clamp(STANDARD_BODY_CENTRE.column, halfWpx + FIT_MARGIN_PX - 0.5, W - 0.5 - halfWpx - FIT_MARGIN_PX);
  const targetRow = clamp(STANDARD_BODY_CENTRE.row, halfHpx + FIT_MARGIN_PX - 0.5, H - 0.5 - halfHpx - FIT_MARGIN_PX);
  const centreRow = (box.r0 + box.r1) / 2;
  const centreCol = (box.c0 + box.c1) / 2;
  const rowStep = p / sy;
  const columnStep = p / sx;
  const originRow = centreRow - targetRow * rowStep;
  const originColumn = centreCol - targetColumn * columnStep;
  const grey = new Float32Array(W * H);
  const satMask = new Uint8Array(W * H);
  const isPadding = slice.paddingMask ? (i: number) => slice.paddingMask![i] === 1 : undefined;
  for (let y = 0; y < H; y++) {
    const r = originRow + y * rowStep;
    for (let x = 0; x < W; x++) {
      const c = originColumn + x * columnStep;
      const v = sampleBilinear(hu, rows, columns, r, c, COHORT_AIR_HU, isPadding);
      grey[y * W + x] = Math.round(huToCohortGrey(v));
      if (fatMaskSource === 'segmentation') satMask[y * W + x] = sampleBilinear(masks.subcutaneousFat, rows, columns, r, c, 0) >= 0.5 ? 1 : 0;
    }
  }
  if (fatMaskSource === 'as-training') satMask.set(cohortFatMasks(grey, W, H).satMask);
  return { width: W, height: H, grey, satMask, fatMaskSource, pixelMm: p, mapping: { originRow, originColumn, rowStep, columnStep }, warnings };
}

/** The 4-channel model input for a DICOM T11 slice, plus the standardised grey image (for the heatmap overlay). */
export function dicomT11ModelInput(slice: HuSlice, masks: TissueMasks, options: { pixelMm?: number; fatMask?: FatMaskSource } = {}): { channels: Float32Array; standardised: StandardisedT11 } {
  const standardised = standardiseT11Slice(slice, masks, options);
  return { channels: buildModelChannels(standardised.grey, standardised.satMask), standardised };
}
