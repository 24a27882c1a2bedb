/**
 * The cohort's 8-bit T11 JPEGs (../shared/data/lf-dlrn-bc/images/t11) as model input:
 * decode, convert to grey, and (see calibration below) map grey back to approximate HU so the
 * same tissue segmentation as for DICOM series can give the subcutaneous-fat mask.
 * Pure: takes bytes, returns arrays (the caller reads files).
 */
import jpeg from 'jpeg-js';
import { PAPER_HU_WINDOWS, type HuWindows } from '../analysis/types.ts';
import { segmentTissuesOnSlice } from '../analysis/tissue.ts';
import { cityBlockDepth, fillHoles, labelComponents, largestComponent } from './binary-morphology.ts';

export const COHORT_T11_WIDTH = 500;
export const COHORT_T11_HEIGHT = 400;

export interface GreyImage {
  width: number;
  height: number;
  /** Grey levels 0..255 (integers stored as float), row-major. */
  grey: Float32Array;
}

/**
 * ITU-R BT.601 luma exactly as Pillow's `Image.convert('L')` computes it (integer fixed point,
 * rounded): L = (19595 R + 38470 G + 7471 B + 32768) >> 16. Chosen because the cohort images are
 * grey with some JPEG chroma noise and coloured overlay glyphs; luma keeps grey pixels unchanged
 * (R=G=B -> L=R) and is the conversion every Python tool (PIL) would use on these files.
 */
export function rgbToLuma(r: number, g: number, b: number): number {
  return (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
}

/** Decode a baseline JPEG (jpeg-js, pure JS) and convert to luma grey. Throws with a clear message on bad input. */
export function decodeJpegToGrey(bytes: Uint8Array): GreyImage {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new Error('not a JPEG file (missing SOI marker 0xFFD8)');
  }
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 50, maxMemoryUsageInMB: 256 });
  } catch (err) {
    throw new Error(`JPEG could not be decoded: ${(err as Error).message}`);
  }
  const { width, height, data } = decoded;
  const channels = data.length / (width * height);
  if (channels !== 3 && channels !== 1) throw new Error(`JPEG decoded to ${channels} channels; expected 1 or 3`);
  const grey = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    grey[i] = channels === 1 ? (data[i] as number) : rgbToLuma(data[3 * i] as number, data[3 * i + 1] as number, data[3 * i + 2] as number);
  }
  return { width, height, grey };
}

/**
 * Grey <-> HU calibration of the cohort's T11 images (the window they were made with is not published).
 *
 * Derivation (train split, 185 images; the resulting r and fat peak are re-checked by test/cohort-calibration.test.ts):
 *  1. The -50 HU end of the visceral-fat window: a grid search (one-off, scipy prototype) of the grey interval used
 *     as "visceral fat" (fat not connected to the subcutaneous band) against the recorded vfa_t11_cm2 peaks at an
 *     upper grey bound of ~182 (r 0.92), while the lower bound is flat between 64 and 96 (few pixels there).
 *  2. The fat peak: the mode of in-body grey between 30 and 230 over the train images is 121 (body = grey > 20;
 *     113 with the test's -500 HU body mask); adipose tissue's mean attenuation is about -100 HU.
 *  Two anchors (182 <-> -50 HU, 121 <-> -100 HU) give 0.82 HU per grey level, i.e. a linear window of
 *  about [-199, +10] HU. We round to [-200, +10] HU (width 210, level -95): soft tissue (>= +10 HU) is
 *  white, fat grey, lung/air black, as the images look. The DICOM path (standardise.ts) renders with the
 *  same window so live inputs look like the training images.
 */
export const COHORT_WINDOW_HU: readonly [number, number] = [-200, 10];

/** 8-bit grey (0..255, fractional allowed) of a HU value in the cohort window. */
export function huToCohortGrey(hu: number): number {
  const [lo, hi] = COHORT_WINDOW_HU;
  const g = ((hu - lo) / (hi - lo)) * 255;
  return g <= 0 ? 0 : g >= 255 ? 255 : g;
}

/** Grey at or below this is air/lung: the window is black below -200 HU and JPEG noise spreads black to a few levels. */
export const COHORT_AIR_GREY_MAX = 7;
/** Saturated white (>= +10 HU) is assigned a nominal soft-tissue value inside the paper's muscle window. */
export const COHORT_SATURATED_HU = 40;
export const COHORT_AIR_HU = -1000;

/** Approximate HU for each pixel of a cohort grey image (Int16Array like CtVolume.hu). */
export function cohortGreyToHu(grey: Float32Array): Int16Array {
  const [lo, hi] = COHORT_WINDOW_HU;
  const hu = new Int16Array(grey.length);
  for (let i = 0; i < grey.length; i++) {
    const g = grey[i] as number;
    if (g <= COHORT_AIR_GREY_MAX) hu[i] = COHORT_AIR_HU;
    else if (g >= 255) hu[i] = COHORT_SATURATED_HU;
    else hu[i] = Math.round(lo + (g / 255) * (hi - lo));
  }
  return hu;
}

export interface CohortFatMasks {
  width: number;
  height: number;
  body: Uint8Array;
  subcutaneousFat: Uint8Array;
  visceralFat: Uint8Array;
}

/** Depth (px) of the band under the skin in which subcutaneous fat is seeded. */
export const SKIN_BAND_PX = 6;
/** Subcutaneous fat extends this far (px) beyond core fat into the wider SAT window. */
export const SAT_GROW_PX = 2;
/** Above this HU a pixel is body (not air/lung). */
const BODY_MIN_HU = -500;

/**
 * Fat masks on a cohort image by connectivity ("edge-connected fat"), a fallback that needs only
 * thresholds:
 *  body = largest 4-connected region above -500 HU, holes filled;
 *  core = body pixels in the visceral-fat window (-150..-50 HU: unambiguous fat);
 *  SAT  = core components reaching the band within SKIN_BAND_PX of the body edge (fat under the skin,
 *         stopped by the white muscle wall), grown by SAT_GROW_PX into the wider SAT window (-190..-30);
 *  VAT  = body pixels in the visceral-fat window that are not SAT.
 * On the 185 train images VAT pixel counts correlate with the recorded vfa_t11_cm2 at r = 0.92.
 * Limits: a gap in the muscle wall lets SAT leak into VAT; inter-muscular fat counts as VAT.
 */
export function edgeConnectedFatMasks(hu: Int16Array, width: number, height: number, windows: HuWindows = PAPER_HU_WINDOWS): CohortFatMasks {
  const n = width * height;
  if (hu.length !== n) throw new Error(`HU image has ${hu.length} pixels, expected ${width}x${height}`);
  const above = new Uint8Array(n);
  for (let i = 0; i < n; i++) above[i] = (hu[i] as number) > BODY_MIN_HU ? 1 : 0;
  const body = fillHoles(largestComponent(above, width, height), width, height);
  const depth = cityBlockDepth(body, width, height);
  const [satLo, satHi] = windows.subcutaneousFat;
  const [vatLo, vatHi] = windows.visceralFat;
  // Connectivity runs on the narrower visceral window ("core" fat): with the wide SAT window the
  // partial-volume rim of the muscle wall (-50..-30 HU) bridges subcutaneous and visceral fat.
  const core = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = hu[i] as number;
    core[i] = body[i] && v >= vatLo && v <= vatHi ? 1 : 0;
  }
  const { labels, count } = labelComponents(core, width, height);
  const touchesSkin = new Uint8Array(count + 1);
  for (let i = 0; i < n; i++) {
    const l = labels[i] as number;
    if (l && (depth[i] as number) <= SKIN_BAND_PX) touchesSkin[l] = 1;
  }
  const coreSat = new Uint8Array(n);
  for (let i = 0; i < n; i++) coreSat[i] = touchesSkin[labels[i] as number] && labels[i] ? 1 : 0;
  // SAT = SAT-window pixels within SAT_GROW_PX of core subcutaneous fat (takes back the fat's rim).
  const nearCoreSat = cityBlockDepth(invert(coreSat), width, height);
  const subcutaneousFat = new Uint8Array(n);
  const visceralFat = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = hu[i] as number;
    if (body[i] && v >= satLo && v <= satHi && (nearCoreSat[i] as number) <= SAT_GROW_PX) subcutaneousFat[i] = 1;
    else visceralFat[i] = body[i] && v >= vatLo && v <= vatHi ? 1 : 0;
  }
  return { width, height, body, subcutaneousFat, visceralFat };
}

function invert(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] ? 0 : 1;
  return out;
}

/**
 * How the fat-mask channel is made from an 8-bit cohort-window image. ONE function for training tensors
 * (models/make-tensors.ts) and serving (standardise.ts runs it on the standardised DICOM image), so the
 * model always sees masks from the same pipeline.
 *  'segmentation':   the project's tissue segmentation (src/analysis/tissue.ts segmentTissuesOnSlice: ray-cast
 *                    muscle wall) on cohortGreyToHu(grey), pixels assumed COHORT_PIXEL_MM square; its VAT pixel
 *                    counts correlate with the recorded vfa_t11_cm2 at r = 0.913 (185 train images, tissue.ts 2f1b143);
 *  'edge-connected': edgeConnectedFatMasks (thresholds + connectivity only; fast, but leaks through gaps
 *                    in a thin muscle wall into visceral fat, seen on chest-ct-1).
 */
export type CohortFatMaskMethod = 'segmentation' | 'edge-connected';
export const COHORT_FAT_MASK_METHOD: CohortFatMaskMethod = 'segmentation';
/**
 * Pixel size assumed for the cohort images (their spacing is not recorded) = the standardised DICOM pixel
 * size (standardise.ts), so the segmentation's mm-based parameters act the same on both.
 */
export const COHORT_PIXEL_MM = 0.78;

/** Which segmentation made the cohort fat masks (recorded in the tensor index and model card). */
export function cohortFatMaskSource(method: CohortFatMaskMethod = COHORT_FAT_MASK_METHOD): string {
  const calib = `cohortGreyToHu (window ${COHORT_WINDOW_HU[0]}..${COHORT_WINDOW_HU[1]} HU)`;
  return method === 'segmentation'
    ? `segmentTissuesOnSlice (src/analysis/tissue.ts) subcutaneousFat on ${calib}, ${COHORT_PIXEL_MM} mm pixels, paper windows`
    : `edgeConnectedFatMasks on ${calib}, paper SAT/VAT windows`;
}

/** Subcutaneous (and visceral) fat masks of an 8-bit cohort-window grey image, by the chosen method. */
export function cohortFatMasks(grey: Float32Array, width: number, height: number, method: CohortFatMaskMethod = COHORT_FAT_MASK_METHOD): { satMask: Uint8Array; vatMask: Uint8Array } {
  const hu = cohortGreyToHu(grey);
  if (method === 'edge-connected') {
    const m = edgeConnectedFatMasks(hu, width, height);
    return { satMask: m.subcutaneousFat, vatMask: m.visceralFat };
  }
  const m = segmentTissuesOnSlice({ hu, rows: height, columns: width, pixelSpacingMm: [COHORT_PIXEL_MM, COHORT_PIXEL_MM] });
  return { satMask: m.subcutaneousFat, vatMask: m.visceralFat };
}

/** Grey image and subcutaneous-fat mask of one cohort T11 image, ready for buildModelChannels. */
export function cohortModelInputs(img: GreyImage, method: CohortFatMaskMethod = COHORT_FAT_MASK_METHOD): { grey: Float32Array; satMask: Uint8Array; vatMask: Uint8Array } {
  return { grey: img.grey, ...cohortFatMasks(img.grey, img.width, img.height, method) };
}

