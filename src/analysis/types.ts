/**
 * Typed values handed between the pure analysis stages:
 *   decode (DICOM bytes -> DecodedSlice) -> volume (CtVolume) -> levels (LevelFinding)
 *   -> tissue (TissueMasks) -> measures (BodyComposition) -> AnalysisResult.
 * No stage here touches the network, the database or the file system.
 */

/** One DICOM instance as bytes, plus an optional label used only in reasons/messages (never patient data). */
export interface DicomInput {
  bytes: ArrayBuffer;
  /** e.g. the file name; appears in exclusion reasons. */
  label?: string;
}

/** Why an input instance was left out of the volume (localizer, other series, non-CT, unreadable...). */
export interface ExcludedInstance {
  label: string;
  reason: string;
}

/**
 * An axial CT volume in Hounsfield units, slices sorted along the slice normal from
 * head to foot (index 0 = most superior). Voxel (slice k, row r, column c) is at
 * hu[k * rows * columns + r * columns + c].
 */
export interface CtVolume {
  rows: number;
  columns: number;
  slices: number;
  /** HU after RescaleSlope/Intercept. Padding / outside-scan-circle voxels are set to PADDING_HU. */
  hu: Int16Array;
  /** 1 where a voxel is padding or outside the reconstruction circle: never air, fat or anything else. */
  paddingMask: Uint8Array;
  /** [row spacing, column spacing] in mm (DICOM PixelSpacing order). */
  pixelSpacingMm: [number, number];
  /** Head-foot position of each slice in mm (ImagePositionPatient[2] for axial slices), head first. */
  sliceZMm: number[];
  /** Median distance between adjacent slice centres, mm. */
  sliceSpacingMm: number;
  sopInstanceUIDs: string[];
  studyInstanceUID: string;
  seriesInstanceUID: string;
  frameOfReferenceUID: string | null;
  sopClassUID: string;
  /** ImageOrientationPatient of the series (row cosines then column cosines). */
  imageOrientationPatient: number[];
  /** ImagePositionPatient of each slice (same order as sliceZMm). */
  imagePositionPatient: [number, number, number][];
  /** PatientSize (m) from DICOM if present and plausible, else null. */
  patientSizeM: number | null;
  /** Instances not used, with why. */
  excluded: ExcludedInstance[];
  /**
   * Set when the source images were flipped/transposed into the canonical grid (columns -> patient
   * left, rows -> posterior). Masks must be mapped back (analysis/volume.ts `toSourceGrid`) before they
   * are written against the source images (SEG, overlays). Absent = stored grid is the source grid.
   */
  sourceGrid?: SourceGridMapping;
}

export interface SourceGridMapping {
  /** Source image size (DICOM Rows/Columns). */
  rows: number;
  columns: number;
  /** Source ImageOrientationPatient. */
  imageOrientationPatient: number[];
  /** Stored rows run along the source columns. */
  transposed: boolean;
  /** Stored rows/columns run opposite to the (possibly transposed) source rows/columns. */
  flipRows: boolean;
  flipColumns: boolean;
}

/** Value used for padding voxels inside `hu`; chosen below any real tissue so thresholds never catch it. */
export const PADDING_HU = -3024;

export type LevelName =
  | 'T1' | 'T2' | 'T3' | 'T4' | 'T5' | 'T6' | 'T7' | 'T8' | 'T9' | 'T10' | 'T11' | 'T12'
  | 'L1' | 'L2' | 'L3' | 'L4' | 'L5';

export interface VertebralLevel {
  name: LevelName;
  /** Inclusive slice index range of the vertebral body (indices into CtVolume, head first). */
  sliceRange: [number, number];
  /** Slice index of the middle of the body: where body composition is measured. */
  midSliceIndex: number;
  zMm: number;
  sopInstanceUID: string;
  /** 0..1. Below the finder's threshold the level is not used for measurement. */
  confidence: number;
  /** True when the body is cut by the edge of the field of view. */
  partial: boolean;
}

export interface LevelFinding {
  /** True when T11 was found with enough confidence and its body is fully in view. */
  t11Assessable: boolean;
  /** Why T11 is not assessable (null when it is). Never contains patient data. */
  reason: string | null;
  levels: Partial<Record<LevelName, VertebralLevel>>;
  /** Human-readable evidence lines (rib counts top-down / bottom-up, agreement, warnings). */
  evidence: string[];
  /** Algorithm version of the finder (goes into the SR). */
  algorithmVersion: string;
}

/** Binary masks (0/1) on one axial slice, rows x columns, row-major. */
export interface TissueMasks {
  rows: number;
  columns: number;
  body: Uint8Array;
  subcutaneousFat: Uint8Array;
  visceralFat: Uint8Array;
  erectorSpinae: Uint8Array;
  /** Inside the abdominal/thoracic muscle wall (the boundary between SAT and VAT). */
  insideWall: Uint8Array;
  /** Segmentation notes worth a warning (e.g. an arm cut off the body outline). No patient data. */
  notes?: string[];
}

/** HU windows from the source paper (method-facts.md). Configurable because sites may differ. */
export interface HuWindows {
  subcutaneousFat: [number, number];
  visceralFat: [number, number];
  muscle: [number, number];
}

export const PAPER_HU_WINDOWS: HuWindows = {
  subcutaneousFat: [-190, -30],
  visceralFat: [-150, -50],
  muscle: [-29, 150],
};

export interface BodyComposition {
  sfaCm2: number;
  vfaCm2: number;
  esmaCm2: number;
  /** Indices are null when height is unknown: never guessed. */
  sfiCm2M2: number | null;
  vfiCm2M2: number | null;
  esmiCm2M2: number | null;
  heightM: number | null;
  heightSource: 'clinical' | 'dicom' | 'cli' | null;
}

export interface AlgorithmIdentification {
  name: string;
  version: string;
  parameters: Record<string, string | number | boolean>;
}

/** Where the measurement was made. */
export interface MeasuredSlice {
  sliceIndex: number;
  sopInstanceUID: string;
  zMm: number;
  /** How the slice was chosen. */
  source: 'level-finder' | 'override';
  /** Level-finder confidence for T11 (null for an override). */
  confidence: number | null;
  partial: boolean;
}

export interface AnalysisResult {
  assessable: boolean;
  reason: string | null;
  levelFinding: LevelFinding;
  measuredSlice: MeasuredSlice | null;
  bodyComposition: BodyComposition | null;
  /** Masks at the measured slice (kept for the fat-mask channel, SEG and QA picture). */
  masks: TissueMasks | null;
  algorithm: AlgorithmIdentification;
  /** Non-fatal warnings (e.g. "height unknown: indices not computed"). No patient data. */
  warnings: string[];
}
