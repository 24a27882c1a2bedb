import type { AnalysisResult } from '../analysis/types.ts';
import type { RiskResult } from '../model/types.ts';

/**
 * Patient/study attributes copied from the source series into derived objects (SR, ORU,
 * heatmap SC). These carry identifiers: they go into DICOM/HL7 outputs only, never into logs.
 */
export interface SourceStudyContext {
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: string;
  studyInstanceUID: string;
  studyDate: string;
  studyTime: string;
  studyId: string;
  accessionNumber: string;
  referringPhysicianName: string;
  studyDescription: string;
  seriesInstanceUID: string;
  /** SOP class of the source images (CT Image Storage or Enhanced CT). */
  sopClassUID: string;
  frameOfReferenceUID: string | null;
}

export interface ReportInput {
  source: SourceStudyContext;
  analysis: AnalysisResult;
  risk: RiskResult | null;
  /** Set when the result replaces an earlier one (radiologist level override). */
  correction: {
    reason: string;
    replacesSopInstanceUID: string | null;
    /** Series of the replaced SR; needed for the SR Predecessor Documents Sequence (omitted if unknown). */
    replacesSeriesInstanceUID?: string | null;
  } | null;
  /** UIDs decided by the caller so a re-run of the same job yields the same objects (idempotent outbox). */
  uids: { studyInstanceUID?: never; seriesInstanceUID: string; sopInstanceUID: string };
  /** Content date/time (DICOM DA/TM strings). */
  contentDate: string;
  contentTime: string;
  /** Software identification for the Equipment module. */
  software: { manufacturer: string; modelName: string; version: string; deviceSerialNumber: string };
  /** Institution name for the Equipment module (may be empty). */
  institutionName: string;
  /**
   * Optional: SOP Instance UIDs of every source image the analysis used (e.g. CtVolume.sopInstanceUIDs).
   * When given, the SR's Current Requested Procedure Evidence lists them all; otherwise only the T11 image.
   */
  evidenceSopInstanceUIDs?: string[];
}

/** A finished DICOM object ready for the outbox. */
export interface DicomObject {
  sopClassUID: string;
  sopInstanceUID: string;
  seriesInstanceUID: string;
  studyInstanceUID: string;
  transferSyntaxUID: string;
  /** DICOM Part 10 file bytes. */
  bytes: Uint8Array;
}
