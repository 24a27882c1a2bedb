/**
 * The 4-channel image-model input, made by this one function both for training tensors
 * (models/make-tensors.ts, cohort JPEGs) and at serving time (DICOM T11 slice via standardise.ts).
 *
 * Layout: float32, channel-major [4][400][500] (C x H x W, what ONNX/PyTorch NCHW expects for N=1).
 * Channel order and normalisation:
 *   0 CT      grey / 255                      -> 0..1
 *   1 HOG     hogVisualisation(grey) / 100    -> about 0..1 (fixed divisor, not per-image max, so
 *                                               gradient strength stays comparable between images;
 *                                               real T11 images peak at 75..100 grey units)
 *   2 LBP     localBinaryPattern(grey,24,3) / 2^24 -> 0..1 (the code read as a binary fraction: bit 23,
 *                                               the neighbour at angle 345 deg, weighs 0.5)
 *   3 fat     subcutaneous-fat mask: +0.5 fat, -0.5 not fat (the paper's convention)
 * Pure: no I/O.
 */
import { hogVisualisation } from './hog.ts';
import { localBinaryPattern } from './lbp.ts';

export const MODEL_INPUT_WIDTH = 500;
export const MODEL_INPUT_HEIGHT = 400;
export const MODEL_INPUT_CHANNELS = 4;
export const CHANNEL_NAMES = ['ct', 'hog', 'lbp', 'fatMask'] as const;
/** Fixed divisor for the HOG picture (see header). */
export const HOG_CHANNEL_DIVISOR = 100;
/** LBP codes (P = 24) are divided by 2^24. */
export const LBP_CHANNEL_DIVISOR = 2 ** 24;

/** Description written next to tensors and into the model card, so Python and TS agree. */
export const CHANNEL_SPEC = {
  layout: 'float32 [4][400][500] channel-major (C,H,W)',
  channels: [
    { name: 'ct', formula: 'grey / 255', grey: 'Pillow-style BT.601 luma of the 8-bit T11 image, fat-oriented window' },
    { name: 'hog', formula: `skimage hog(grey, orientations=8, pixels_per_cell=(16,16), cells_per_block=(1,1), visualize=True)[1] / ${HOG_CHANNEL_DIVISOR}` },
    { name: 'lbp', formula: 'skimage local_binary_pattern(grey, P=24, R=3, method="default") / 2**24' },
    { name: 'fatMask', formula: '+0.5 where subcutaneous fat, -0.5 elsewhere' },
  ],
} as const;

/**
 * Build the model input from a 500x400 grey image (0..255) and its subcutaneous-fat mask (0/1), both row-major.
 */
export function buildModelChannels(grey500x400: Float32Array, satMask500x400: Uint8Array): Float32Array {
  const w = MODEL_INPUT_WIDTH;
  const h = MODEL_INPUT_HEIGHT;
  const n = w * h;
  if (grey500x400.length !== n) throw new Error(`grey image has ${grey500x400.length} pixels; the model needs ${w}x${h}=${n}`);
  if (satMask500x400.length !== n) throw new Error(`fat mask has ${satMask500x400.length} pixels; the model needs ${w}x${h}=${n}`);
  for (let i = 0; i < n; i++) {
    const g = grey500x400[i] as number;
    if (!(g >= 0 && g <= 255)) throw new Error(`grey value ${g} at pixel ${i} is outside 0..255`);
  }
  const hog = hogVisualisation(grey500x400, w, h);
  const lbp = localBinaryPattern(grey500x400, w, h, 24, 3);
  const out = new Float32Array(MODEL_INPUT_CHANNELS * n);
  for (let i = 0; i < n; i++) {
    out[i] = (grey500x400[i] as number) / 255;
    out[n + i] = (hog[i] as number) / HOG_CHANNEL_DIVISOR;
    out[2 * n + i] = (lbp[i] as number) / LBP_CHANNEL_DIVISOR;
    out[3 * n + i] = satMask500x400[i] ? 0.5 : -0.5;
  }
  return out;
}
