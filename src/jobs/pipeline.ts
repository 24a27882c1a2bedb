import type { AnalysisResult, HuWindows } from '../analysis/types.ts';
import type { ClinicalRecord, RiskResult } from '../model/types.ts';
import type { DicomObject, SourceStudyContext } from '../report/types.ts';
import type { JobOutputIds, StageTiming } from './store.ts';

/**
 * What the runner asks the compute pipeline to do for one job. Plain data (structured-clone safe)
 * so the computation can run in a worker thread and keep the listeners responsive.
 */
export interface ComputeRequest {
  jobId: string;
  /** Spool paths of the instances the job covers. */
  paths: string[];
  /** Patient/study context, read once by the runner (load stage) from one of the instances. */
  source: SourceStudyContext;
  /** Set for a radiologist override: measure at this slice instead of the level finder's T11. */
  atSliceSopInstanceUID: string | null;
  /**
   * Set when the job could not be processed (compute crashed, interrupted too often): no analysis is
   * attempted; the SR/ORU only say that the series could not be processed, and why.
   */
  failure: string | null;
  /** Set when this result replaces an earlier SR (override, or a new version of the series). */
  correction: { reason: string; replacesSopInstanceUID: string | null; replacesSeriesInstanceUID: string | null } | null;
  outputIds: JobOutputIds;
  /** DICOM DA / TM for the content date/time: fixed per job so a re-run writes identical objects. */
  contentDate: string;
  contentTime: string;
  clinical: ClinicalRecord | null;
  huWindows: HuWindows;
  minT11Confidence: number;
  modelEnabled: boolean;
  modelDir: string;
  institutionName: string;
  hl7: { sendingApplication: string; sendingFacility: string; receivingApplication: string; receivingFacility: string };
  softwareVersion: string;
}

export interface ComputeResult {
  /** Analysis without the masks (they are large and only needed inside the pipeline). */
  analysis: Omit<AnalysisResult, 'masks'>;
  risk: Omit<RiskResult, 'heatmap' | 'heatmapPng'> | null;
  sr: DicomObject | null;
  heatmapSc: DicomObject | null;
  oru: string | null;
  stages: StageTiming[];
  /** Pipeline-level warnings (model skipped, etc.) in addition to analysis warnings. */
  warnings: string[];
}

/** The compute pipeline as seen by the runner (in-process or worker-backed). */
export interface JobComputer {
  /** Patient/study context of the series (read from one instance). */
  readSource(path: string): Promise<SourceStudyContext>;
  compute(req: ComputeRequest): Promise<ComputeResult>;
  close(): Promise<void>;
}
