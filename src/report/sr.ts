/**
 * TID 1500 "Measurement Report" for the T11 body-composition result, in a Comprehensive SR.
 * Pure: ReportInput in, Part 10 bytes out.
 *
 * Hand-built because dcmjs.sr.templates (0.51) cannot express this report: its MeasurementReport
 * accepts only one of imaging measurements / qualitative evaluations and always writes an empty
 * Image Library. The structure follows highdicom's tid1500.py.
 *
 * Tree (rows follow PS3.16 TID 1500 / 1501 / 4019):
 *   Imaging Measurement Report
 *   ├ HAS CONCEPT MOD  Language (+ country)
 *   ├ HAS OBS CONTEXT  Observer = Device (UID, name, manufacturer, model, serial)
 *   ├ HAS CONCEPT MOD  Procedure reported
 *   ├ CONTAINS         Image Library > Image Library Group > IMAGE (analysed T11 slice)
 *   ├ CONTAINS         Imaging Measurements (only when something was measured or predicted)
 *   │   ├ Measurement Group "T11 vertebral level": finding T11, confidence, slice z, partial, source
 *   │   ├ Measurement Group per tissue (SAT, VAT, erector spinae): tracking id/UID, finding,
 *   │   │   finding site T11, algorithm, area NUM, index NUM (INFERRED FROM the slice and the body
 *   │   │   height) or a "not attempted" NUM when height is unknown
 *   │   ├ Measurement Group "Metastasis risk (research model)"        (when input.risk)
 *   │   └ Measurement Group "Published evidence (...), not this model" (when input.risk)
 *   └ CONTAINS         Qualitative Evaluations: assessable, reason, level-finder notes, warnings,
 *                      correction note, research-use statement (CODE/TEXT only)
 */
import type { AnalysisResult, BodyComposition, MeasuredSlice } from '../analysis/types.ts';
import type { RiskResult } from '../model/types.ts';
import * as C from './codes.ts';
import type { CodedConcept } from './codes.ts';
import { codeItem, EXPLICIT_VR_LITTLE_ENDIAN, writePart10, type NaturalDataset } from './part10.ts';
import {
  codeValue,
  container,
  formatDecimalString,
  image,
  num,
  numNotAvailable,
  text,
  uidRef,
  type ContentItem,
} from './sr-content.ts';
import type { DicomObject, ReportInput } from './types.ts';
import { derivedUid } from './uids.ts';
import { patientAndStudyModules, privateCodingSchemeIdentification } from './modules.ts';
import { validateReportInput } from './validate.ts';
import { notAssessableText, sfiCategoryText } from './wording.ts';

export const COMPREHENSIVE_SR_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.88.33';
/** Fixed series number so PACS users find bonemet results in the same place for every study. */
export const SR_SERIES_NUMBER = 9101;
export const SR_SERIES_DESCRIPTION = 'bonemet T11 body composition (research use)';


interface TissueRow {
  key: 'sat' | 'vat' | 'esm';
  label: string;
  finding: CodedConcept;
  indexConcept: CodedConcept;
  area: (b: BodyComposition) => number;
  index: (b: BodyComposition) => number | null;
}

const TISSUES: readonly TissueRow[] = [
  {
    key: 'sat',
    label: 'T11 subcutaneous adipose tissue',
    finding: C.SUBCUTANEOUS_ADIPOSE_TISSUE,
    indexConcept: C.SUBCUTANEOUS_FAT_INDEX,
    area: (b) => b.sfaCm2,
    index: (b) => b.sfiCm2M2,
  },
  {
    key: 'vat',
    label: 'T11 visceral adipose tissue',
    finding: C.VISCERAL_ADIPOSE_TISSUE,
    indexConcept: C.VISCERAL_FAT_INDEX,
    area: (b) => b.vfaCm2,
    index: (b) => b.vfiCm2M2,
  },
  {
    key: 'esm',
    label: 'T11 erector spinae muscle',
    finding: C.ERECTOR_SPINAE_MUSCLE,
    indexConcept: C.ERECTOR_SPINAE_MUSCLE_INDEX,
    area: (b) => b.esmaCm2,
    index: (b) => b.esmiCm2M2,
  },
];

/** Tracking UIDs stay the same when the same job is re-run (derived from the SR's own UID). */
export function trackingUid(srSopInstanceUID: string, key: string): string {
  return derivedUid(srSopInstanceUID, 'tracking', key);
}

/** Build the TID 1500 Comprehensive SR for one analysed series. */
export function buildMeasurementReportSr(input: ReportInput): DicomObject {
  validateReportInput(input);
  const dataset: NaturalDataset = {
    ...patientAndStudyModules(input),
    ...srSeriesAndEquipmentModules(input),
    ...srDocumentGeneralModule(input),
    ...srDocumentContent(input),
    SOPClassUID: COMPREHENSIVE_SR_SOP_CLASS,
    SOPInstanceUID: input.uids.sopInstanceUID,
    CodingSchemeIdentificationSequence: privateCodingSchemeIdentification(),
    InstanceCreationDate: input.contentDate,
    InstanceCreationTime: input.contentTime,
  };
  return {
    sopClassUID: COMPREHENSIVE_SR_SOP_CLASS,
    sopInstanceUID: input.uids.sopInstanceUID,
    seriesInstanceUID: input.uids.seriesInstanceUID,
    studyInstanceUID: input.source.studyInstanceUID,
    transferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    bytes: writePart10(dataset, input.software.version),
  };
}

function srSeriesAndEquipmentModules(input: ReportInput): NaturalDataset {
  return {
    Modality: 'SR',
    SeriesInstanceUID: input.uids.seriesInstanceUID,
    SeriesNumber: SR_SERIES_NUMBER,
    SeriesDescription: SR_SERIES_DESCRIPTION,
    SeriesDate: input.contentDate,
    SeriesTime: input.contentTime,
    ReferencedPerformedProcedureStepSequence: [],
    Manufacturer: input.software.manufacturer,
    ManufacturerModelName: input.software.modelName,
    SoftwareVersions: input.software.version,
    DeviceSerialNumber: input.software.deviceSerialNumber,
    InstitutionName: input.institutionName,
  };
}

function srDocumentGeneralModule(input: ReportInput): NaturalDataset {
  const slice = input.analysis.measuredSlice;
  const module: NaturalDataset = {
    InstanceNumber: 1,
    // Not an end-user draft: the algorithm's output is complete, but nobody has signed it.
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PreliminaryFlag: 'FINAL',
    ContentDate: input.contentDate,
    ContentTime: input.contentTime,
    PerformedProcedureCodeSequence: [],
  };
  const evidence = new Set<string>(input.evidenceSopInstanceUIDs ?? []);
  if (slice) evidence.add(slice.sopInstanceUID);
  if (evidence.size > 0) {
    module['CurrentRequestedProcedureEvidenceSequence'] = [
      {
        StudyInstanceUID: input.source.studyInstanceUID,
        ReferencedSeriesSequence: [
          {
            SeriesInstanceUID: input.source.seriesInstanceUID,
            ReferencedSOPSequence: [...evidence].map((uid) => ({
              ReferencedSOPClassUID: input.source.sopClassUID,
              ReferencedSOPInstanceUID: uid,
            })),
          },
        ],
      },
    ];
  }
  const c = input.correction;
  if (c?.replacesSopInstanceUID && c.replacesSeriesInstanceUID) {
    module['PredecessorDocumentsSequence'] = [
      {
        StudyInstanceUID: input.source.studyInstanceUID,
        ReferencedSeriesSequence: [
          {
            SeriesInstanceUID: c.replacesSeriesInstanceUID,
            ReferencedSOPSequence: [
              { ReferencedSOPClassUID: COMPREHENSIVE_SR_SOP_CLASS, ReferencedSOPInstanceUID: c.replacesSopInstanceUID },
            ],
          },
        ],
      },
    ];
  }
  return module;
}

function srDocumentContent(input: ReportInput): NaturalDataset {
  const a = input.analysis;
  const slice = a.measuredSlice;
  const sliceRef = slice ? { sopClassUID: input.source.sopClassUID, sopInstanceUID: slice.sopInstanceUID } : null;

  const children: ContentItem[] = [
    codeValue('HAS CONCEPT MOD', C.LANGUAGE_OF_CONTENT, C.LANGUAGE_ENGLISH, [
      codeValue('HAS CONCEPT MOD', C.COUNTRY_OF_LANGUAGE, C.COUNTRY_US),
    ]),
    ...deviceObserverContext(input),
    codeValue('HAS CONCEPT MOD', C.PROCEDURE_REPORTED, C.CT_UNSPECIFIED_BODY_REGION),
    container(
      'CONTAINS',
      C.IMAGE_LIBRARY,
      sliceRef ? [container('CONTAINS', C.IMAGE_LIBRARY_GROUP, [image('CONTAINS', null, sliceRef)])] : [],
    ),
  ];

  const groups: ContentItem[] = [];
  if (a.assessable && a.bodyComposition && slice && sliceRef) {
    groups.push(levelGroup(input, slice, sliceRef));
    for (const tissue of TISSUES) groups.push(tissueGroup(input, tissue, a.bodyComposition, sliceRef));
  }
  if (input.risk) {
    groups.push(riskGroup(input, input.risk));
    groups.push(publishedEvidenceGroup(input, input.risk));
  }
  if (groups.length > 0) children.push(container('CONTAINS', C.IMAGING_MEASUREMENTS, groups));

  children.push(container('CONTAINS', C.QUALITATIVE_EVALUATIONS, qualitativeEvaluations(input)));

  return {
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codeItem(C.IMAGING_MEASUREMENT_REPORT)],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: children,
  };
}

function deviceObserverContext(input: ReportInput): ContentItem[] {
  const sw = input.software;
  const items: ContentItem[] = [
    codeValue('HAS OBS CONTEXT', C.OBSERVER_TYPE, C.OBSERVER_TYPE_DEVICE),
    uidRef('HAS OBS CONTEXT', C.DEVICE_OBSERVER_UID, derivedUid('bonemet-device', sw.manufacturer, sw.modelName, sw.deviceSerialNumber)),
    text('HAS OBS CONTEXT', C.DEVICE_OBSERVER_NAME, `${sw.modelName} ${sw.version}`),
  ];
  if (sw.manufacturer) items.push(text('HAS OBS CONTEXT', C.DEVICE_OBSERVER_MANUFACTURER, sw.manufacturer));
  if (sw.modelName) items.push(text('HAS OBS CONTEXT', C.DEVICE_OBSERVER_MODEL_NAME, sw.modelName));
  if (sw.deviceSerialNumber) items.push(text('HAS OBS CONTEXT', C.DEVICE_OBSERVER_SERIAL_NUMBER, sw.deviceSerialNumber));
  return items;
}

/** TID 4019. An empty name/version is reported as "unspecified" rather than failing the report. */
function algorithmIdentification(name: string, version: string, parameters: Record<string, string | number | boolean>): ContentItem[] {
  const items = [
    text('HAS CONCEPT MOD', C.ALGORITHM_NAME, name || 'unspecified'),
    text('HAS CONCEPT MOD', C.ALGORITHM_VERSION, version || 'unspecified'),
  ];
  for (const [key, value] of Object.entries(parameters)) {
    items.push(text('HAS CONCEPT MOD', C.ALGORITHM_PARAMETERS, `${key}=${String(value)}`));
  }
  return items;
}

/** TID 1501 Measurement Group; tracking identification is observation context (rows 2-3). */
function measurementGroup(input: ReportInput, key: string, label: string, items: ContentItem[]): ContentItem {
  const group = container('CONTAINS', C.MEASUREMENT_GROUP, [
    text('HAS OBS CONTEXT', C.TRACKING_IDENTIFIER, label),
    uidRef('HAS OBS CONTEXT', C.TRACKING_UNIQUE_IDENTIFIER, trackingUid(input.uids.sopInstanceUID, key)),
    ...items,
  ]);
  group['ContentTemplateSequence'] = [{ MappingResource: 'DCMR', TemplateIdentifier: '1501' }];
  return group;
}

type ImageRef = { sopClassUID: string; sopInstanceUID: string };

/** Where the measured T11 slice is and how sure the finder was (only when a slice was measured). */
function levelGroup(input: ReportInput, slice: MeasuredSlice, sliceRef: ImageRef): ContentItem {
  const finder = input.analysis.levelFinding;
  const items: ContentItem[] = [
    codeValue('CONTAINS', C.FINDING, C.T11_VERTEBRA),
    ...algorithmIdentification('bonemet vertebral level finder', finder.algorithmVersion, {
      levelSource: slice.source,
    }),
  ];
  if (slice.confidence !== null) {
    items.push(num('CONTAINS', C.LEVEL_CONFIDENCE, slice.confidence, C.UNIT_ONE, 3, [image('INFERRED FROM', C.SOURCE_OF_MEASUREMENT, sliceRef)]));
  }
  items.push(num('CONTAINS', C.MEASURED_SLICE_Z, slice.zMm, C.UNIT_MM, 2, [image('INFERRED FROM', C.SOURCE_OF_MEASUREMENT, sliceRef)]));
  // TID 1501 qualitative evaluations of the group
  items.push(codeValue('CONTAINS', C.LEVEL_PARTIAL, slice.partial ? C.YES : C.NO));
  items.push(text('CONTAINS', C.LEVEL_SOURCE, slice.source === 'override' ? 'Radiologist override' : 'Automatic level finder'));
  return measurementGroup(input, 'level', 'T11 vertebral level', items);
}

function tissueGroup(input: ReportInput, tissue: TissueRow, body: BodyComposition, sliceRef: ImageRef): ContentItem {
  const alg = input.analysis.algorithm;
  const fromSlice = (): ContentItem => image('INFERRED FROM', C.SOURCE_OF_MEASUREMENT, sliceRef);
  const index = tissue.index(body);
  let indexItem: ContentItem;
  if (index === null || body.heightM === null) {
    indexItem = numNotAvailable('CONTAINS', tissue.indexConcept, C.MEASUREMENT_NOT_ATTEMPTED, [
      text('HAS PROPERTIES', C.COMMENT, 'Body height unknown: index not computed'),
    ]);
  } else {
    // The index is area / height^2: say which height it used and where that came from.
    const height = num('INFERRED FROM', C.BODY_HEIGHT, body.heightM, C.UNIT_M, 3,
      body.heightSource ? [text('HAS PROPERTIES', C.HEIGHT_SOURCE, body.heightSource)] : []);
    indexItem = num('CONTAINS', tissue.indexConcept, index, C.UNIT_CM2_PER_M2, 2, [fromSlice(), height]);
  }
  return measurementGroup(input, tissue.key, tissue.label, [
    codeValue('CONTAINS', C.FINDING, tissue.finding),
    codeValue('HAS CONCEPT MOD', C.FINDING_SITE, C.T11_VERTEBRA),
    ...algorithmIdentification(alg.name, alg.version, alg.parameters),
    num('CONTAINS', C.AREA, tissue.area(body), C.UNIT_CM2, 2, [fromSlice()]),
    indexItem,
  ]);
}

/** The research model's output. Probability is unitless (UCUM "1"), 0..1. */
function riskGroup(input: ReportInput, risk: RiskResult): ContentItem {
  return measurementGroup(input, 'risk', 'Metastasis risk (research model)', [
    ...algorithmIdentification(risk.modelName, risk.modelVersion, { inputsUsed: risk.inputsUsed }),
    num('CONTAINS', C.METASTASIS_RISK_PROBABILITY, risk.probability, C.UNIT_ONE, 4),
    num('CONTAINS', C.RISK_THRESHOLD, risk.threshold, C.UNIT_ONE, 4),
    codeValue('CONTAINS', C.RISK_HIGH, risk.highRisk ? C.YES : C.NO),
    text('CONTAINS', C.RISK_INPUTS_USED, risk.inputsUsed || 'unspecified'),
    text('CONTAINS', C.RESEARCH_USE_ONLY, C.RESEARCH_USE_STATEMENT),
    ...risk.warnings.filter(Boolean).map((w) => text('CONTAINS', C.COMMENT, w)),
  ]);
}

/**
 * Figures from the source paper applied to this patient, in their own group so no reader takes
 * them for our model's output: the tracking identifier itself says "not this model".
 */
function publishedEvidenceGroup(input: ReportInput, risk: RiskResult): ContentItem {
  const ev = risk.publishedEvidence;
  const items: ContentItem[] = [
    ...algorithmIdentification('Miao et al. 2023 (Cancer Biomarkers) published Cox model and SFI cut-off', 'published', {}),
    num('CONTAINS', C.SFI_CUTOFF, ev.sfiCutoffCm2M2, C.UNIT_CM2_PER_M2, 2),
  ];
  if (ev.relativeHazard === null) {
    items.push(numNotAvailable('CONTAINS', C.RELATIVE_HAZARD, C.MEASUREMENT_NOT_ATTEMPTED, [
      text('HAS PROPERTIES', C.COMMENT, `Missing inputs: ${ev.missingInputs.join(', ') || 'unspecified'}`),
    ]));
  } else {
    items.push(num('CONTAINS', C.RELATIVE_HAZARD, ev.relativeHazard, C.UNIT_ONE, 3, [
      text('HAS PROPERTIES', C.COMMENT, `Inputs: ${ev.relativeHazardInputs.join(', ') || 'none'}`),
    ]));
  }
  items.push(text('CONTAINS', C.SFI_CUTOFF_CATEGORY, sfiCategoryText(ev)));
  items.push(text('CONTAINS', C.COMMENT, ev.label));
  return measurementGroup(input, 'published-evidence', C.PUBLISHED_EVIDENCE.meaning, items);
}

/** TID 1500 Qualitative Evaluations: CODE and TEXT items only. */
function qualitativeEvaluations(input: ReportInput): ContentItem[] {
  const a: AnalysisResult = input.analysis;
  const items: ContentItem[] = [codeValue('CONTAINS', C.ASSESSABLE, a.assessable ? C.YES : C.NO)];
  if (!a.assessable) {
    items.push(text('CONTAINS', C.NOT_ASSESSABLE_REASON, notAssessableText(a)));
    const candidate = a.levelFinding.levels.T11;
    if (candidate) {
      items.push(text('CONTAINS', C.LEVEL_CONFIDENCE,
        `T11 candidate confidence ${formatDecimalString(candidate.confidence, 3)}${candidate.partial ? ', body cut by the field of view' : ''}`));
    }
  }
  items.push(text('CONTAINS', C.ALGORITHM_VERSION, `Level finder ${a.levelFinding.algorithmVersion || 'unspecified'}`));
  for (const line of a.levelFinding.evidence.filter(Boolean)) items.push(text('CONTAINS', C.COMMENT, line));
  for (const warning of a.warnings.filter(Boolean)) items.push(text('CONTAINS', C.COMMENT, warning));
  if (input.correction) {
    const replaced = input.correction.replacesSopInstanceUID;
    items.push(text('CONTAINS', C.CORRECTION_NOTE,
      `Corrected report: ${input.correction.reason}` + (replaced ? ` (replaces SR ${replaced})` : '')));
  }
  items.push(text('CONTAINS', C.RESEARCH_USE_ONLY, C.RESEARCH_USE_STATEMENT));
  return items;
}
