/**
 * Checks on the values a report is built from. They come from our own stages, but a bad UID or
 * date would only surface later as a PACS rejection, so fail here with a message naming the field.
 * Messages never include patient data.
 */
import type { ReportInput } from './types.ts';
import { isValidUid } from './uids.ts';

const DA = /^\d{8}$/;
const TM = /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;

export class ReportInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportInputError';
  }
}

function requireUid(value: string | null | undefined, field: string): void {
  if (typeof value !== 'string' || !isValidUid(value)) {
    throw new ReportInputError(`${field} is not a valid DICOM UID (${value === undefined || value === null ? 'missing' : `${String(value).length} chars`})`);
  }
}

function requireFiniteNonNegative(value: number | null, field: string): void {
  if (value !== null && !(Number.isFinite(value) && value >= 0)) {
    throw new ReportInputError(`${field} must be a finite number >= 0, got ${value}`);
  }
}

export function validateReportInput(input: ReportInput): void {
  requireUid(input.uids.sopInstanceUID, 'uids.sopInstanceUID');
  requireUid(input.uids.seriesInstanceUID, 'uids.seriesInstanceUID');
  requireUid(input.source.studyInstanceUID, 'source.studyInstanceUID');
  requireUid(input.source.seriesInstanceUID, 'source.seriesInstanceUID');
  requireUid(input.source.sopClassUID, 'source.sopClassUID');
  if (!DA.test(input.contentDate)) throw new ReportInputError('contentDate must be a DICOM DA (YYYYMMDD)');
  if (!TM.test(input.contentTime)) throw new ReportInputError('contentTime must be a DICOM TM (HHMMSS[.ffffff])');
  if (input.uids.seriesInstanceUID === input.source.seriesInstanceUID) {
    throw new ReportInputError('uids.seriesInstanceUID must be a new series, not the source series');
  }
  const a = input.analysis;
  if (a.assessable) {
    if (!a.bodyComposition) throw new ReportInputError('analysis is assessable but has no bodyComposition');
    if (!a.measuredSlice) throw new ReportInputError('analysis is assessable but has no measuredSlice');
  } else if (!a.reason && !a.levelFinding.reason) {
    throw new ReportInputError('analysis is not assessable but gives no reason');
  }
  const slice = a.measuredSlice;
  if (slice) {
    requireUid(slice.sopInstanceUID, 'analysis.measuredSlice.sopInstanceUID');
    if (!Number.isFinite(slice.zMm)) throw new ReportInputError('analysis.measuredSlice.zMm is not a finite number');
    if (slice.confidence !== null && !(slice.confidence >= 0 && slice.confidence <= 1)) {
      throw new ReportInputError(`analysis.measuredSlice.confidence must be within 0..1, got ${slice.confidence}`);
    }
  }
  const t11 = a.levelFinding.levels.T11;
  if (t11 && !(t11.confidence >= 0 && t11.confidence <= 1)) {
    throw new ReportInputError(`levelFinding T11 confidence must be within 0..1, got ${t11.confidence}`);
  }
  const b = a.bodyComposition;
  if (b) {
    requireFiniteNonNegative(b.sfaCm2, 'bodyComposition.sfaCm2');
    requireFiniteNonNegative(b.vfaCm2, 'bodyComposition.vfaCm2');
    requireFiniteNonNegative(b.esmaCm2, 'bodyComposition.esmaCm2');
    requireFiniteNonNegative(b.sfiCm2M2, 'bodyComposition.sfiCm2M2');
    requireFiniteNonNegative(b.vfiCm2M2, 'bodyComposition.vfiCm2M2');
    requireFiniteNonNegative(b.esmiCm2M2, 'bodyComposition.esmiCm2M2');
    if (b.heightM !== null && !(Number.isFinite(b.heightM) && b.heightM > 0)) {
      throw new ReportInputError(`bodyComposition.heightM must be a positive number of metres, got ${b.heightM}`);
    }
  }
  const r = input.risk;
  if (r) {
    for (const [field, v] of [['risk.probability', r.probability], ['risk.threshold', r.threshold]] as const) {
      if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw new ReportInputError(`${field} must be within 0..1, got ${v}`);
    }
    const rh = r.publishedEvidence.relativeHazard;
    if (rh !== null && !(Number.isFinite(rh) && rh > 0)) {
      throw new ReportInputError(`risk.publishedEvidence.relativeHazard must be a positive number, got ${rh}`);
    }
  }
  (input.evidenceSopInstanceUIDs ?? []).forEach((uid, i) => requireUid(uid, `evidenceSopInstanceUIDs[${i}]`));
  const c = input.correction;
  if (c) {
    if (!c.reason.trim()) throw new ReportInputError('correction.reason is empty');
    if (c.replacesSopInstanceUID) requireUid(c.replacesSopInstanceUID, 'correction.replacesSopInstanceUID');
    if (c.replacesSeriesInstanceUID) requireUid(c.replacesSeriesInstanceUID, 'correction.replacesSeriesInstanceUID');
  }
}
