/**
 * HL7 v2.5.1 ORU^R01 result message for the EHR. Pure: ReportInput in, message text out
 * (segments joined by \r, no MLLP framing). Built with node-hl7-client's Message builder, which
 * escapes | ^ ~ \ & in every value it is given, so free text (reasons, names) cannot break fields.
 *
 * Layout: MSH, PID, ORC, OBR, then OBX rows:
 *   study/SR identifiers (ST), assessable (CWE), reason (TX) when not assessable,
 *   level source/confidence/partial/slice z, areas and indices (NM + UCUM), body height,
 *   model probability + threshold + research-use note + published evidence, correction note, warnings.
 */
import { Message } from 'node-hl7-client';
import { HL7_2_5_1 } from 'node-hl7-client/hl7';
import type { BodyComposition } from '../analysis/types.ts';
import * as C from './codes.ts';
import type { CodedConcept } from './codes.ts';
import { formatDecimalString } from './sr-content.ts';
import type { ReportInput } from './types.ts';
import { validateReportInput, ReportInputError } from './validate.ts';
import { notAssessableText, sfiCategoryText } from './wording.ts';

/** Published SFI cut-off (Miao et al. 2023), used when no RiskResult carries it. */
export const PUBLISHED_SFI_CUTOFF_CM2_M2 = 27.7;

export interface OruMessageHeader {
  messageControlId: string;
  /** HL7 DTM, e.g. 20261123120000 */
  dateTime: string;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
}

/** OBX-3 identifiers for values with no standard code (private scheme, as in the SR). */
const OBS = {
  studyUid: { value: '110180', scheme: 'DCM', meaning: 'Study Instance UID' },
  srUid: { value: 'SRUID', scheme: C.PRIVATE_SCHEME, meaning: 'bonemet SR SOP Instance UID' },
  sfa: { value: 'SFA', scheme: C.PRIVATE_SCHEME, meaning: 'Subcutaneous fat area at T11' },
  vfa: { value: 'VFA', scheme: C.PRIVATE_SCHEME, meaning: 'Visceral fat area at T11' },
  esma: { value: 'ESMA', scheme: C.PRIVATE_SCHEME, meaning: 'Erector spinae muscle area at T11' },
} as const satisfies Record<string, CodedConcept>;

const HL7_YES = { value: 'Y', scheme: 'HL70136', meaning: 'Yes' };
const HL7_NO = { value: 'N', scheme: 'HL70136', meaning: 'No' };

/** MSH-10 is ST(20 in 2.5.1 conformance profiles); longer ids are truncated by some receivers. */
const MAX_CONTROL_ID = 20;
const HL7_DTM = /^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,4})?)?)?)?)?)?([+-]\d{4})?$/;

type Segment = ReturnType<Message['addSegment']>;

interface ObxRow {
  type: 'NM' | 'ST' | 'TX' | 'CWE';
  id: CodedConcept;
  value: string | CodedConcept;
  unit?: CodedConcept;
  referenceRange?: string;
  abnormalFlag?: string;
}

function setCoded(segment: Segment, field: number, c: CodedConcept): void {
  segment.set(`${field}.1`, c.value);
  segment.set(`${field}.2`, c.meaning);
  segment.set(`${field}.3`, c.scheme);
}

/** DICOM PN (Family^Given^Middle^Prefix^Suffix) to HL7 XPN (Family^Given^Middle^Suffix^Prefix). */
/** Placer and filler order number (ORC/OBR fields 2 and 3): the accession number, when the study has one. */
function setOrderNumbers(segment: Segment, accessionNumber: string): void {
  if (!accessionNumber) return;
  segment.set('2', accessionNumber);
  segment.set('3', accessionNumber);
}

function setPersonName(segment: Segment, field: number, dicomName: string): void {
  const alphabetic = dicomName.split('=')[0] ?? '';
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = alphabetic.split('^');
  const parts = [family, given, middle, suffix, prefix];
  parts.forEach((p, i) => {
    if (p) segment.set(`${field}.${i + 1}`, p);
  });
}

function hl7Sex(dicomSex: string): string {
  return dicomSex === 'M' || dicomSex === 'F' || dicomSex === 'O' ? dicomSex : 'U';
}

function validateHeader(msg: OruMessageHeader): void {
  if (!msg.messageControlId || msg.messageControlId.length > MAX_CONTROL_ID) {
    throw new ReportInputError(`messageControlId must be 1..${MAX_CONTROL_ID} characters`);
  }
  if (!HL7_DTM.test(msg.dateTime)) throw new ReportInputError('dateTime must be an HL7 DTM (YYYYMMDDHHMMSS)');
  for (const key of ['sendingApplication', 'sendingFacility', 'receivingApplication', 'receivingFacility'] as const) {
    if (!msg[key]) throw new ReportInputError(`${key} is empty`);
  }
}

function tissueRows(body: BodyComposition, sfiCutoff: number): ObxRow[] {
  const area = (id: CodedConcept, v: number): ObxRow => ({ type: 'NM', id, value: formatDecimalString(v, 2), unit: C.UNIT_CM2 });
  const rows: ObxRow[] = [area(OBS.sfa, body.sfaCm2), area(OBS.vfa, body.vfaCm2), area(OBS.esma, body.esmaCm2)];
  const index = (id: CodedConcept, v: number | null, extra: Partial<ObxRow> = {}): void => {
    if (v === null) return;
    rows.push({ type: 'NM', id, value: formatDecimalString(v, 2), unit: C.UNIT_CM2_PER_M2, ...extra });
  };
  const sfi = body.sfiCm2M2;
  // The only published cut-off: SFI below it carried higher metastasis risk in the source paper.
  index(C.SUBCUTANEOUS_FAT_INDEX, sfi, {
    referenceRange: `>=${sfiCutoff}`,
    ...(sfi !== null && sfi < sfiCutoff ? { abnormalFlag: 'L' } : {}),
  });
  index(C.VISCERAL_FAT_INDEX, body.vfiCm2M2);
  index(C.ERECTOR_SPINAE_MUSCLE_INDEX, body.esmiCm2M2);
  if (body.heightM === null) {
    rows.push({ type: 'TX', id: C.COMMENT, value: 'Body height unknown: indices SFI/VFI/ESMI not computed' });
  } else {
    rows.push({ type: 'NM', id: C.BODY_HEIGHT, value: formatDecimalString(body.heightM, 3), unit: C.UNIT_M });
  }
  return rows;
}

function observationRows(input: ReportInput): ObxRow[] {
  const a = input.analysis;
  const rows: ObxRow[] = [
    { type: 'ST', id: OBS.studyUid, value: input.source.studyInstanceUID },
    { type: 'ST', id: OBS.srUid, value: input.uids.sopInstanceUID },
    { type: 'CWE', id: C.ASSESSABLE, value: a.assessable ? HL7_YES : HL7_NO },
  ];
  if (!a.assessable) {
    rows.push({ type: 'TX', id: C.NOT_ASSESSABLE_REASON, value: notAssessableText(a) });
  }
  const slice = a.measuredSlice;
  if (slice) {
    rows.push({ type: 'ST', id: C.LEVEL_SOURCE, value: slice.source === 'override' ? 'Radiologist override' : 'Automatic level finder' });
    if (slice.confidence !== null) {
      rows.push({ type: 'NM', id: C.LEVEL_CONFIDENCE, value: formatDecimalString(slice.confidence, 3), unit: C.UNIT_ONE });
    }
    rows.push({ type: 'CWE', id: C.LEVEL_PARTIAL, value: slice.partial ? HL7_YES : HL7_NO });
    rows.push({ type: 'NM', id: C.MEASURED_SLICE_Z, value: formatDecimalString(slice.zMm, 2), unit: C.UNIT_MM });
  }
  const sfiCutoff = input.risk?.publishedEvidence.sfiCutoffCm2M2 ?? PUBLISHED_SFI_CUTOFF_CM2_M2;
  if (a.assessable && a.bodyComposition) rows.push(...tissueRows(a.bodyComposition, sfiCutoff));

  const risk = input.risk;
  if (risk) {
    rows.push({ type: 'NM', id: C.METASTASIS_RISK_PROBABILITY, value: formatDecimalString(risk.probability * 100, 1), unit: { value: '%', scheme: 'UCUM', meaning: 'percent' } });
    rows.push({ type: 'NM', id: C.RISK_THRESHOLD, value: formatDecimalString(risk.threshold * 100, 1), unit: { value: '%', scheme: 'UCUM', meaning: 'percent' } });
    rows.push({ type: 'CWE', id: C.RISK_HIGH, value: risk.highRisk ? HL7_YES : HL7_NO });
    rows.push({ type: 'ST', id: C.RISK_INPUTS_USED, value: `${risk.inputsUsed}; model ${risk.modelName} ${risk.modelVersion}` });
    const ev = risk.publishedEvidence;
    const category = sfiCategoryText(ev);
    const hazard = ev.relativeHazard === null
      ? `relative hazard not computed (missing: ${ev.missingInputs.join(', ') || 'unspecified'})`
      : `relative hazard ${formatDecimalString(ev.relativeHazard, 3)} (inputs: ${ev.relativeHazardInputs.join(', ')})`;
    rows.push({ type: 'TX', id: C.PUBLISHED_EVIDENCE, value: `${ev.label}: ${category}; ${hazard}` });
    if (ev.relativeHazard !== null) {
      rows.push({ type: 'NM', id: C.RELATIVE_HAZARD, value: formatDecimalString(ev.relativeHazard, 3), unit: C.UNIT_ONE });
    }
    for (const w of risk.warnings.filter(Boolean)) rows.push({ type: 'TX', id: C.COMMENT, value: w });
  }
  for (const w of a.warnings.filter(Boolean)) rows.push({ type: 'TX', id: C.COMMENT, value: w });
  if (input.correction) {
    rows.push({ type: 'TX', id: C.CORRECTION_NOTE, value: `Corrected result: ${input.correction.reason}` });
  }
  rows.push({ type: 'TX', id: C.RESEARCH_USE_ONLY, value: C.RESEARCH_USE_STATEMENT });
  return rows;
}

export function buildOruR01(input: ReportInput, msg: OruMessageHeader): string {
  validateReportInput(input);
  validateHeader(msg);
  const s = input.source;
  const resultStatus = input.correction ? 'C' : 'F';

  const message = new Message({
    specification: new HL7_2_5_1(),
    // The library types ask only for the minimal MSH fields; 2.5.1 needs MSH-9.3 too.
    messageHeader: { msh_9_1: 'ORU', msh_9_2: 'R01', msh_9_3: 'ORU_R01', msh_10: msg.messageControlId, msh_11_1: 'P' } as never,
  });
  message.set('MSH.3', msg.sendingApplication);
  message.set('MSH.4', msg.sendingFacility);
  message.set('MSH.5', msg.receivingApplication);
  message.set('MSH.6', msg.receivingFacility);
  message.set('MSH.7', msg.dateTime);
  // Names may be non-ASCII; the outbox sends the message as UTF-8.
  message.set('MSH.18', 'UNICODE UTF-8');

  const pid = message.addSegment('PID');
  pid.set('1', '1');
  if (s.patientId) pid.set('3.1', s.patientId);
  setPersonName(pid, 5, s.patientName);
  if (s.patientBirthDate) pid.set('7', s.patientBirthDate);
  pid.set('8', hl7Sex(s.patientSex));

  const orc = message.addSegment('ORC');
  orc.set('1', 'RE');
  setOrderNumbers(orc, s.accessionNumber);
  orc.set('5', 'CM');

  const studyDateTime = `${s.studyDate}${s.studyTime.split('.')[0] ?? ''}`;
  const obr = message.addSegment('OBR');
  obr.set('1', '1');
  setOrderNumbers(obr, s.accessionNumber);
  obr.set('4.1', 'BONEMET-T11');
  obr.set('4.2', 'T11 body composition (research)');
  obr.set('4.3', C.PRIVATE_SCHEME);
  if (HL7_DTM.test(studyDateTime)) obr.set('7', studyDateTime);
  obr.set('22', msg.dateTime);
  obr.set('24', 'CT');
  obr.set('25', resultStatus);

  observationRows(input).forEach((row, i) => {
    const obx = message.addSegment('OBX');
    obx.set('1', String(i + 1));
    obx.set('2', row.type);
    setCoded(obx, 3, row.id);
    if (typeof row.value === 'string') obx.set('5', row.value);
    else setCoded(obx, 5, row.value);
    if (row.unit) {
      // The brief's form `cm2^cm2^UCUM`: UCUM code doubles as the display text.
      obx.set('6.1', row.unit.value);
      obx.set('6.2', row.unit.value);
      obx.set('6.3', 'UCUM');
    }
    if (row.referenceRange) obx.set('7', row.referenceRange);
    if (row.abnormalFlag) obx.set('8', row.abnormalFlag);
    obx.set('11', resultStatus);
    if (HL7_DTM.test(studyDateTime)) obx.set('14', studyDateTime);
  });
  return message.toString();
}
