/**
 * Hand-made ReportInput values for report tests (and for anyone needing a realistic one).
 * The source context comes from a real CT file; the numbers are plausible T11 values, not results.
 */
import fs from 'node:fs';
import type { AnalysisResult, VertebralLevel } from '../src/analysis/types.ts';
import type { RiskResult } from '../src/model/types.ts';
import { sourceContextFromDicom } from '../src/report/source-context.ts';
import type { ReportInput, SourceStudyContext } from '../src/report/types.ts';

export const SOURCE_CT_FILE = new URL('../../shared/data/ct/chest-ct-1/dicom/1-190.dcm', import.meta.url).pathname;

export function readSourceContext(file = SOURCE_CT_FILE): { context: SourceStudyContext; sopInstanceUID: string } {
  const b = fs.readFileSync(file);
  const context = sourceContextFromDicom(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  // The T11 mid-slice file of chest-ct-1 (InstanceNumber 190); its SOP UID is in its file meta.
  const sopInstanceUID = '1.2.826.0.1.3680043.10.474.419639.135260034381782909926308898282';
  return { context, sopInstanceUID };
}

function t11Level(sopInstanceUID: string, partial = false): VertebralLevel {
  return { name: 'T11', sliceRange: [182, 197], midSliceIndex: 189, zMm: -267.75, sopInstanceUID, confidence: 0.87, partial };
}

export function assessableAnalysis(sopInstanceUID: string, opts: { heightM: number | null; sfi?: number }): AnalysisResult {
  const h = opts.heightM;
  const sfa = 123.46;
  const idx = (a: number) => (h === null ? null : a / (h * h));
  const sfi = h === null ? null : opts.sfi ?? idx(sfa);
  return {
    assessable: true,
    reason: null,
    levelFinding: {
      t11Assessable: true,
      reason: null,
      levels: { T11: t11Level(sopInstanceUID) },
      evidence: ['12 rib pairs counted top-down', 'bottom-up count agrees'],
      algorithmVersion: 'levels-0.1.0',
    },
    measuredSlice: { sliceIndex: 189, sopInstanceUID, zMm: -267.75, source: 'level-finder', confidence: 0.87, partial: false },
    bodyComposition: {
      sfaCm2: sfa, vfaCm2: 80.1, esmaCm2: 30.25,
      sfiCm2M2: sfi, vfiCm2M2: idx(80.1), esmiCm2M2: idx(30.25),
      heightM: h, heightSource: h === null ? null : 'clinical',
    },
    masks: null,
    algorithm: { name: 'bonemet T11 body composition', version: '0.1.0', parameters: { satHu: '-190..-30', vatHu: '-150..-50', muscleHu: '-29..150' } },
    warnings: h === null ? ['height unknown: indices not computed'] : [],
  };
}

export function notAssessableAnalysis(): AnalysisResult {
  return {
    assessable: false,
    reason: 'T11 not in the field of view',
    levelFinding: { t11Assessable: false, reason: 'T11 not in the field of view', levels: {}, evidence: ['only 7 rib pairs visible'], algorithmVersion: 'levels-0.1.0' },
    measuredSlice: null,
    bodyComposition: null,
    masks: null,
    algorithm: { name: 'bonemet T11 body composition', version: '0.1.0', parameters: {} },
    warnings: [],
  };
}

export function riskResult(sfiCategory: 'below-cutoff' | 'at-or-above-cutoff' | null): RiskResult {
  return {
    modelName: 'bonemet-lfdlrn-gbdt',
    modelVersion: '0.1.0',
    inputsUsed: 'imaging+clinical',
    probability: 0.3127,
    pImage: 0.41, pClinical: 0.22, pCombined: 0.3127,
    threshold: 0.25,
    highRisk: true,
    publishedEvidence: {
      label: 'Published evidence (Miao et al. 2023), not this model',
      sfiCutoffCm2M2: 27.7,
      sfiCategory,
      relativeHazard: sfiCategory === null ? null : 2.314,
      relativeHazardInputs: sfiCategory === null ? [] : ['SFI', 'CEA', 'LVI'],
      missingInputs: sfiCategory === null ? ['SFI'] : ['Ki-67'],
    },
    heatmap: null,
    heatmapPng: null,
    warnings: ['Ki-67 missing: imputed with training median'],
    researchUseOnly: true,
  };
}

export function reportInput(source: SourceStudyContext, analysis: AnalysisResult, extra: Partial<ReportInput> = {}): ReportInput {
  return {
    source,
    analysis,
    risk: null,
    correction: null,
    uids: { seriesInstanceUID: '2.25.101202303040506070809', sopInstanceUID: '2.25.201202303040506070809' },
    contentDate: '20261123',
    contentTime: '120000',
    software: { manufacturer: 'bonemet project', modelName: 'bonemet', version: '0.1.0', deviceSerialNumber: 'test-1' },
    institutionName: 'Test Hospital',
    ...extra,
  };
}
