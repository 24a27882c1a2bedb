/**
 * Areas (cm²) from masks and pixel spacing, and height-normalised indices (cm²/m²).
 * Indices are computed only when a height is known: never guessed, never from a default.
 */
import { count } from './morphology.ts';
import type { BodyComposition, TissueMasks } from './types.ts';

export interface KnownHeight {
  heightM: number;
  source: 'clinical' | 'dicom' | 'cli';
}

/** Heights outside this range are entry errors (cm typed as m, 0...): refused rather than used. */
export const PLAUSIBLE_HEIGHT_RANGE_M: [number, number] = [1.0, 2.3];

export function isPlausibleHeightM(heightM: number): boolean {
  return Number.isFinite(heightM) && heightM >= PLAUSIBLE_HEIGHT_RANGE_M[0] && heightM <= PLAUSIBLE_HEIGHT_RANGE_M[1];
}

/** Area of a mask in cm² (pixel spacing in mm: mm² / 100). */
export function maskAreaCm2(mask: Uint8Array, pixelSpacingMm: [number, number]): number {
  return (count(mask) * pixelSpacingMm[0] * pixelSpacingMm[1]) / 100;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export function measureBodyComposition(
  masks: TissueMasks,
  pixelSpacingMm: [number, number],
  height: KnownHeight | null,
): BodyComposition {
  if (!(pixelSpacingMm[0] > 0 && pixelSpacingMm[1] > 0)) throw new RangeError(`invalid pixel spacing ${pixelSpacingMm.join('\\')}`);
  if (height && !isPlausibleHeightM(height.heightM)) {
    throw new RangeError(`height ${height.heightM} m is outside ${PLAUSIBLE_HEIGHT_RANGE_M.join('-')} m`);
  }
  const sfaCm2 = maskAreaCm2(masks.subcutaneousFat, pixelSpacingMm);
  const vfaCm2 = maskAreaCm2(masks.visceralFat, pixelSpacingMm);
  const esmaCm2 = maskAreaCm2(masks.erectorSpinae, pixelSpacingMm);
  const h2 = height ? height.heightM * height.heightM : null;
  return {
    sfaCm2: round2(sfaCm2),
    vfaCm2: round2(vfaCm2),
    esmaCm2: round2(esmaCm2),
    sfiCm2M2: h2 === null ? null : round2(sfaCm2 / h2),
    vfiCm2M2: h2 === null ? null : round2(vfaCm2 / h2),
    esmiCm2M2: h2 === null ? null : round2(esmaCm2 / h2),
    heightM: height ? height.heightM : null,
    heightSource: height ? height.source : null,
  };
}
