/**
 * The analysis stage end to end: instances -> volume -> T11 -> masks -> areas/indices.
 * Pure (no I/O). Throws NotAssessableInputError when no usable axial CT stack exists or an override
 * slice is not in it; everything else that prevents a measurement is reported in the result
 * (assessable = false with a reason), never as a silent wrong level.
 */
import type { AnalysisResult, CtVolume, DicomInput, HuWindows, LevelFinding, MeasuredSlice } from './types.ts';
import { PAPER_HU_WINDOWS } from './types.ts';
import { buildCtVolume, slicePaddingMask } from './volume.ts';
import { findVertebralLevels, DEFAULT_MIN_T11_CONFIDENCE, LEVEL_FINDER_VERSION } from './levels.ts';
import { segmentTissues } from './tissue.ts';
import { isPlausibleHeightM, measureBodyComposition, type KnownHeight } from './measures.ts';
import { NotAssessableInputError } from './errors.ts';

export { NotAssessableInputError } from './errors.ts';
export { buildCtVolume, slicePaddingMask, toSourceGrid } from './volume.ts';
export { readPatientSizeM } from './decode.ts';
export { segmentTissues, segmentTissuesOnSlice } from './tissue.ts';
export { measureBodyComposition, type KnownHeight } from './measures.ts';
export { renderQaPng } from './qa-image.ts';

export const ALGORITHM_NAME = 'bonemet-t11-bodycomp';
export const ALGORITHM_VERSION = '0.1.0';
/** Tissue method identifier (changes whenever segmentation constants change). */
export const TISSUE_METHOD = 'raycast-wall-v4';

export interface AnalyzeOptions {
  /** Height from the clinical record or the CLI; preferred over DICOM PatientSize. */
  height?: KnownHeight;
  /** Measure at this slice instead of the level finder's T11 (user override). */
  atSliceSopInstanceUID?: string;
  huWindows?: HuWindows;
  minT11Confidence?: number;
}

/** Slices tilted more than this from the axial plane get a warning (areas grow by 1/cos of the angle). */
const OBLIQUE_WARNING_DEG = 5;

/** Angle between the slice normal and the patient head-foot axis, degrees. */
export function obliqueAngleDeg(iop: number[]): number {
  const [a, b, c, d, e, f] = iop as [number, number, number, number, number, number];
  const n = [b * f - c * e, c * d - a * f, a * e - b * d];
  const len = Math.hypot(n[0]!, n[1]!, n[2]!);
  return len ? (Math.acos(Math.min(1, Math.abs(n[2]!) / len)) * 180) / Math.PI : 90;
}

/** A gap between adjacent slices this many times the usual spacing means missing slices: warn. */
const UNEVEN_GAP_FACTOR = 1.5;

export function largestSliceGapMm(volume: CtVolume): number {
  let gap = 0;
  for (let k = 1; k < volume.slices; k++) gap = Math.max(gap, Math.abs(volume.sliceZMm[k - 1]! - volume.sliceZMm[k]!));
  return gap;
}

/** Share of the body outline on the image edge / padding above which the measurement gets a warning. */
const FOV_CUT_WARNING_FRACTION = 0.02;

function runLevelFinder(volume: CtVolume, minT11Confidence: number, warnings: string[]): LevelFinding {
  try {
    return findVertebralLevels(volume, { minT11Confidence });
  } catch (e) {
    // A finder failure must not lose the study: report "not assessable" with the cause.
    const reason = `level finder failed: ${(e as Error).message}`;
    warnings.push(reason);
    return { t11Assessable: false, reason, levels: {}, evidence: [], algorithmVersion: LEVEL_FINDER_VERSION };
  }
}

function chooseHeight(options: AnalyzeOptions, volume: CtVolume, warnings: string[]): KnownHeight | null {
  if (options.height) {
    if (isPlausibleHeightM(options.height.heightM)) return options.height;
    warnings.push(`height ${options.height.heightM} m (${options.height.source}) is implausible: ignored`);
  }
  if (volume.patientSizeM !== null && isPlausibleHeightM(volume.patientSizeM)) {
    return { heightM: volume.patientSizeM, source: 'dicom' };
  }
  warnings.push('height unknown: indices not computed');
  return null;
}

/** Fraction of the body outline that lies on the image border or next to padding (body cut by the FOV). */
export function bodyOutlineCutFraction(body: Uint8Array, padding: Uint8Array, rows: number, columns: number): number {
  let outline = 0;
  let cut = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      if (!body[i]) continue;
      const onBorder = r === 0 || c === 0 || r === rows - 1 || c === columns - 1;
      const nb = onBorder ? [] : [i - 1, i + 1, i - columns, i + columns];
      const outside = onBorder || nb.some((j) => !body[j]);
      if (!outside) continue;
      outline++;
      if (onBorder || nb.some((j) => padding[j])) cut++;
    }
  }
  return outline ? cut / outline : 0;
}

export function analyzeVolume(volume: CtVolume, options: AnalyzeOptions = {}): AnalysisResult {
  const warnings: string[] = [];
  const windows = options.huWindows ?? PAPER_HU_WINDOWS;
  for (const [name, [lo, hi]] of Object.entries(windows) as [string, [number, number]][]) {
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) throw new RangeError(`HU window ${name} must be [low, high] with low < high (got ${lo}..${hi})`);
  }
  const minT11Confidence = options.minT11Confidence ?? DEFAULT_MIN_T11_CONFIDENCE;
  if (volume.excluded.length) {
    warnings.push(`${volume.excluded.length} instance(s) not used (see excluded list)`);
  }
  const gap = largestSliceGapMm(volume);
  if (volume.slices > 1 && gap > UNEVEN_GAP_FACTOR * volume.sliceSpacingMm) {
    warnings.push(`uneven slice spacing: a gap of ${gap.toFixed(1)} mm (usual ${volume.sliceSpacingMm.toFixed(2)} mm), slices may be missing`);
  }
  const oblique = obliqueAngleDeg(volume.imageOrientationPatient);
  if (oblique > OBLIQUE_WARNING_DEG) {
    warnings.push(`slices are oblique (${oblique.toFixed(0)} deg from axial): areas are measured in the oblique plane`);
  }
  const levelFinding = runLevelFinder(volume, minT11Confidence, warnings);
  const algorithm = {
    name: ALGORITHM_NAME,
    version: ALGORITHM_VERSION,
    parameters: {
      satWindowHu: windows.subcutaneousFat.join('..'),
      vatWindowHu: windows.visceralFat.join('..'),
      muscleWindowHu: windows.muscle.join('..'),
      minT11Confidence,
      levelFinderVersion: levelFinding.algorithmVersion,
      tissueMethod: TISSUE_METHOD,
    },
  };

  let measuredSlice: MeasuredSlice | null = null;
  if (options.atSliceSopInstanceUID !== undefined) {
    const k = volume.sopInstanceUIDs.indexOf(options.atSliceSopInstanceUID);
    if (k < 0) {
      throw new NotAssessableInputError('override slice: the given SOPInstanceUID is not a slice of the analysed series');
    }
    measuredSlice = { sliceIndex: k, sopInstanceUID: volume.sopInstanceUIDs[k]!, zMm: volume.sliceZMm[k]!, source: 'override', confidence: null, partial: false };
    if (!levelFinding.t11Assessable) warnings.push(`measured at the override slice; level finder: ${levelFinding.reason ?? 'T11 not assessable'}`);
  } else if (levelFinding.t11Assessable && levelFinding.levels.T11) {
    const t11 = levelFinding.levels.T11;
    measuredSlice = {
      sliceIndex: t11.midSliceIndex,
      sopInstanceUID: volume.sopInstanceUIDs[t11.midSliceIndex] ?? t11.sopInstanceUID,
      zMm: volume.sliceZMm[t11.midSliceIndex] ?? t11.zMm,
      source: 'level-finder',
      confidence: t11.confidence,
      partial: t11.partial,
    };
  }

  if (!measuredSlice) {
    const reason = levelFinding.t11Assessable
      ? 'T11 reported assessable but not located (level finder inconsistency)'
      : levelFinding.reason ?? 'T11 not assessable';
    return { assessable: false, reason, levelFinding, measuredSlice: null, bodyComposition: null, masks: null, algorithm, warnings };
  }

  const masks = segmentTissues(volume, measuredSlice.sliceIndex, windows);
  const padding = slicePaddingMask(volume, measuredSlice.sliceIndex);
  const cut = bodyOutlineCutFraction(masks.body, padding, volume.rows, volume.columns);
  if (cut > FOV_CUT_WARNING_FRACTION) {
    warnings.push(`body cut by the field of view at the measured slice (${Math.round(cut * 100)} % of the outline): SFA may be underestimated`);
  }
  warnings.push(...(masks.notes ?? []));
  const height = chooseHeight(options, volume, warnings);
  const bodyComposition = measureBodyComposition(masks, volume.pixelSpacingMm, height);
  return { assessable: true, reason: null, levelFinding, measuredSlice, bodyComposition, masks, algorithm, warnings };
}

export async function analyzeSeries(
  inputs: DicomInput[],
  options: AnalyzeOptions = {},
): Promise<{ result: AnalysisResult; volume: CtVolume }> {
  const volume = await buildCtVolume(inputs);
  return { result: analyzeVolume(volume, options), volume };
}
