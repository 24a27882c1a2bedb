import fs from 'node:fs';
import type { AnalysisResult, CtVolume, DicomInput } from '../analysis/types.ts';
import { dicomT11ModelInput } from '../model/standardise.ts';
import { ALGORITHM_NAME, ALGORITHM_VERSION, analyzeSeries, NotAssessableInputError, type AnalyzeOptions } from '../analysis/index.ts';
import { LEVEL_FINDER_VERSION } from '../analysis/levels.ts';
import { axialSlice } from '../analysis/tissue.ts';
import { loadRiskModel, RiskInputError, type RiskModel } from '../model/index.ts';
import type { RiskResult } from '../model/types.ts';
import { buildReportBundle, sourceContextFromDicom } from '../report/index.ts';
import type { ReportInput, SourceStudyContext } from '../report/types.ts';
import type { ComputeRequest, ComputeResult, JobComputer } from './pipeline.ts';
import type { StageTiming } from './store.ts';

/** Node's pooled Buffers share one ArrayBuffer: hand dcmjs exactly the file's bytes. */
function readArrayBuffer(path: string): ArrayBuffer {
  const b = fs.readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export function readSourceContext(path: string): SourceStudyContext {
  return sourceContextFromDicom(readArrayBuffer(path));
}

/** Inputs whose bytes are read from the spool on access, so the analysis never holds the whole series twice. */
function lazyInputs(paths: string[]): DicomInput[] {
  return paths.map((p, i) => ({
    label: `instance ${i + 1}`,
    get bytes(): ArrayBuffer {
      return readArrayBuffer(p);
    },
  }));
}

async function timed<T>(stages: StageTiming[], stage: string, fn: () => Promise<T>, detail: (r: T) => string | null = () => null): Promise<T> {
  const startedAt = Date.now();
  try {
    const r = await fn();
    stages.push({ stage, startedAt, durationMs: Date.now() - startedAt, ok: true, detail: detail(r) });
    return r;
  } catch (e) {
    stages.push({ stage, startedAt, durationMs: Date.now() - startedAt, ok: false, detail: e instanceof Error ? e.message.slice(0, 300) : String(e) });
    throw e;
  }
}

/**
 * T11 analysis. An input that cannot be analysed at all (no usable axial CT stack, override slice not
 * in the series) still yields a result, "not assessable" with the reason, so the SR/ORU say so clearly.
 */
async function analyze(inputs: DicomInput[], req: ComputeRequest): Promise<{ result: AnalysisResult; volume: CtVolume | null }> {
  const heightCm = req.clinical?.heightCm;
  const options: AnalyzeOptions = {
    huWindows: req.huWindows,
    minT11Confidence: req.minT11Confidence,
    ...(heightCm !== undefined ? { height: { heightM: heightCm / 100, source: 'clinical' as const } } : {}),
    ...(req.atSliceSopInstanceUID !== null ? { atSliceSopInstanceUID: req.atSliceSopInstanceUID } : {}),
  };
  try {
    return await analyzeSeries(inputs, options);
  } catch (e) {
    if (!(e instanceof NotAssessableInputError)) throw e;
    return { volume: null, result: notAssessable(e.message) };
  }
}

function notAssessable(reason: string): AnalysisResult {
  return {
    assessable: false,
    reason,
    levelFinding: { t11Assessable: false, reason, levels: {}, evidence: [], algorithmVersion: LEVEL_FINDER_VERSION },
    measuredSlice: null,
    bodyComposition: null,
    masks: null,
    algorithm: { name: ALGORITHM_NAME, version: ALGORITHM_VERSION, parameters: {} },
    warnings: [],
  };
}

/**
 * The CNN's 4-channel input from the measured T11 slice (standardised like the training cohort), or
 * undefined when nothing was measured: predict() then uses what is left (clinical-only) and says so.
 */
function imageChannels(analysis: AnalysisResult, volume: CtVolume | null, warnings: string[]): Float32Array | undefined {
  const slice = analysis.measuredSlice;
  if (volume === null || slice === null || analysis.masks === null) return undefined;
  // axialSlice builds the padding mask of this slice only (volume.paddingMask would build the whole volume's).
  const { channels, standardised } = dicomT11ModelInput(axialSlice(volume, slice.sliceIndex), analysis.masks);
  warnings.push(...standardised.warnings);
  return channels;
}

/** The model is loaded once per process (worker) and directory: ONNX session creation takes ~100 ms+. */
const riskModels = new Map<string, Promise<RiskModel>>();
function riskModelFor(dir: string): Promise<RiskModel> {
  let m = riskModels.get(dir);
  if (m === undefined) {
    m = loadRiskModel(dir);
    riskModels.set(dir, m);
    m.catch(() => riskModels.delete(dir)); // retry loading on the next job (the model may be installed later)
  }
  return m;
}

/** Risk estimate, or null with a warning saying why: the model is optional, a job never fails because of it. */
async function estimateRisk(analysis: AnalysisResult, volume: CtVolume | null, req: ComputeRequest, warnings: string[]): Promise<RiskResult | null> {
  if (!req.modelEnabled) {
    warnings.push('risk model disabled by configuration (model.enabled=false)');
    return null;
  }
  let model: RiskModel;
  try {
    model = await riskModelFor(req.modelDir);
  } catch (e) {
    warnings.push(`risk model not available: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
  try {
    const channels = model.manifest.image ? imageChannels(analysis, volume, warnings) : undefined;
    const { cnn: _cnn, ...risk } = await model.predict({
      ...(channels !== undefined ? { channels } : {}),
      clinical: req.clinical,
      bodyComposition: analysis.bodyComposition,
    });
    return risk;
  } catch (e) {
    if (e instanceof RiskInputError) warnings.push(`no risk estimate: ${e.message}`);
    else warnings.push(`risk model failed: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

/**
 * The whole compute side of a job: analysis -> risk model -> report objects. Reads the spool
 * files it is given and nothing else; returns bytes for the runner to write.
 */
export async function computeJob(req: ComputeRequest): Promise<ComputeResult> {
  const stages: StageTiming[] = [];
  const warnings: string[] = [];
  if (req.paths.length === 0) throw new Error('job has no instances');
  const source = req.source;
  const inputs = lazyInputs(req.paths);

  const failure = req.failure;
  const { result: analysis, volume } = failure !== null
    ? { result: notAssessable(failure), volume: null }
    : await timed(stages, 'analyze', () => analyze(inputs, req), ({ result: a }) =>
      a.assessable ? `T11 measured at z ${a.measuredSlice?.zMm} mm (${a.measuredSlice?.source})` : `not assessable: ${a.reason ?? ''}`);

  const risk = failure !== null ? null : await timed(stages, 'risk', () => estimateRisk(analysis, volume, req, warnings), (r) =>
    r === null ? 'skipped' : `${r.inputsUsed}, p=${r.probability.toFixed(3)}`);

  const reportInput: ReportInput = {
    source,
    analysis,
    risk,
    correction: req.correction,
    uids: { seriesInstanceUID: req.outputIds.srSeriesInstanceUID, sopInstanceUID: req.outputIds.srSopInstanceUID },
    contentDate: req.contentDate,
    contentTime: req.contentTime,
    software: { manufacturer: 'bonemet project', modelName: 'bonemet', version: req.softwareVersion, deviceSerialNumber: '1' },
    institutionName: req.institutionName,
  };
  // SR + ORU, and the Grad-CAM overlay as a Secondary Capture next to the SR when the model made one.
  const { sr, oru, heatmap: heatmapSc } = await timed(stages, 'report', async () => buildReportBundle({
    input: reportInput,
    oruHeader: { messageControlId: req.outputIds.hl7MessageControlId, dateTime: `${req.contentDate}${req.contentTime}`, ...req.hl7 },
    heatmapUids: { seriesInstanceUID: req.outputIds.heatmapSeriesInstanceUID, sopInstanceUID: req.outputIds.heatmapSopInstanceUID },
  }), (b) => (b.heatmap === null ? 'TID 1500 SR, ORU^R01' : 'TID 1500 SR, ORU^R01, Grad-CAM secondary capture'));

  const { masks: _masks, ...analysisWithoutMasks } = analysis;
  const riskSummary = risk === null ? null : (({ heatmap: _h, heatmapPng: _p, ...rest }) => rest)(risk);
  return { analysis: analysisWithoutMasks, risk: riskSummary, sr, heatmapSc, oru, stages, warnings };
}

/** Runs the compute in the calling thread (tests, CLI); the service uses the worker-backed one. */
export class InProcessComputer implements JobComputer {
  async readSource(path: string): Promise<SourceStudyContext> {
    return readSourceContext(path);
  }
  async compute(req: ComputeRequest): Promise<ComputeResult> {
    return computeJob(req);
  }
  async close(): Promise<void> {}
}
