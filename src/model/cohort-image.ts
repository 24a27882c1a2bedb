/**
 * The cohort's 8-bit T11 JPEGs (../shared/data/lf-dlrn-bc/images/t11) as model input:
 * decode, convert to grey, and (see calibration below) map grey back to approximate HU so the
 * same tissue segmentation as for DICOM series can give the subcutaneous-fat mask.
 * Pure: takes bytes, returns arrays (the caller reads files).
 */
import jpeg from 'jpeg-js';

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
