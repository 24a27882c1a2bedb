import type { StoredInstance } from './ingest-sink.ts';

/**
 * Everything the service must not lose, behind one small interface so a PostgreSQL store can
 * replace the SQLite one. All times are epoch milliseconds. Implementations must make each
 * method atomic (one transaction) because a kill -9 can happen between any two calls.
 */

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'skipped';
export type JobKind = 'auto' | 'override';

/** UIDs and IDs for a job's outputs: decided when the job is created so a resumed job writes the same objects. */
export interface JobOutputIds {
  srSeriesInstanceUID: string;
  srSopInstanceUID: string;
  heatmapSeriesInstanceUID: string;
  heatmapSopInstanceUID: string;
  hl7MessageControlId: string;
}

export interface StageTiming {
  stage: string;
  startedAt: number;
  durationMs: number;
  ok: boolean;
  detail: string | null;
}

export interface JobOutput {
  kind: 'sr' | 'heatmap-sc' | 'oru' | 'result-json';
  /** Path relative to the data dir. */
  relativePath: string;
  sopInstanceUID: string | null;
}

export interface JobRecord {
  id: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /** 1 for the first job of a series; +1 for each later one (new instances, override). */
  version: number;
  kind: JobKind;
  /** Override jobs: the job whose result they correct, and the chosen T11 slice. */
  parentJobId: string | null;
  overrideSopInstanceUID: string | null;
  state: JobState;
  /** How many times processing started (a crash mid-job shows as >1). */
  attempts: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  instanceCount: number;
  outputIds: JobOutputIds;
  stages: StageTiming[];
  outputs: JobOutput[];
  /** 'measured' | 'not-assessable' once done. */
  outcome: 'measured' | 'not-assessable' | null;
  /** Why the job failed or was skipped, or why T11 was not assessable. No patient data. */
  reason: string | null;
  warnings: string[];
  /** Hash of the patient ID (for clinical-data lookup and correlation; never the ID itself). */
  patientKey: string | null;
}

export interface JobInstance {
  sopInstanceUID: string;
  path: string;
}

export type DeliveryChannel = 'pacs-dimse' | 'pacs-stow' | 'ehr-mllp';
export type DeliveryState = 'pending' | 'delivered' | 'rejected';

export interface DeliveryRecord {
  id: number;
  jobId: string;
  channel: DeliveryChannel;
  /** Files (relative to the data dir) this delivery sends. */
  relativePaths: string[];
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number;
  lastAttemptAt: number | null;
  lastDetail: string | null;
  ackCode: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

export interface NewJob {
  id: string;
  kind: JobKind;
  seriesInstanceUID: string;
  parentJobId: string | null;
  overrideSopInstanceUID: string | null;
  outputIds: JobOutputIds;
  /** When set the job is created already 'skipped' (e.g. not a CT series) with this reason. */
  skipReason: string | null;
}

export interface JobStore {
  /** Record an instance durably. Returns false when the SOP Instance was already known (harmless repeat). */
  recordInstance(i: StoredInstance, now: number): boolean;
  /**
   * Series whose newest instance arrived at or before `quietSince` and which have instances no
   * job covers yet. Each entry carries the modality seen for the series.
   */
  seriesAwaitingJob(quietSince: number): { seriesInstanceUID: string; modality: string; newInstances: number }[];
  /**
   * Create a job covering every instance of the series recorded so far. Atomic with the check:
   * returns null when nothing new arrived since the last job (so two sweeps cannot make two jobs).
   * Override jobs always get created (they cover the same instances as their parent).
   */
  createJob(job: NewJob, now: number): JobRecord | null;
  getJob(id: string): JobRecord | null;
  /** The newest finished job of a series created before `beforeVersion` (what a new version supersedes). */
  previousDoneJob(seriesInstanceUID: string, beforeVersion: number): JobRecord | null;
  /** Newest first; only jobs in `state` when given. */
  listJobs(limit: number, state?: JobState): JobRecord[];
  /** Instances covered by a job (those recorded when it was created). */
  jobInstances(jobId: string): JobInstance[];
  /** Oldest queued job, marked running with attempts+1; null when none. */
  claimNextJob(now: number): JobRecord | null;
  /** At start: jobs left 'running' by a crash go back to 'queued'. Returns how many. */
  requeueInterrupted(): number;
  /** A graceful shutdown interrupted the job: back to 'queued', and that start does not count as an attempt. */
  releaseForShutdown(jobId: string): void;
  recordStage(jobId: string, timing: StageTiming): void;
  /** Forget stage timings of an earlier, interrupted attempt (kept in `attempts`). */
  clearStages(jobId: string): void;
  setPatientKey(jobId: string, patientKey: string): void;
  addOutput(jobId: string, output: JobOutput): void;
  finishJob(jobId: string, f: { outcome: 'measured' | 'not-assessable'; reason: string | null; warnings: string[]; resultJson: string }, now: number): void;
  failJob(jobId: string, reason: string, now: number): void;
  resultJson(jobId: string): string | null;
  counts(): Record<JobState, number>;

  /** Idempotent: one delivery per (job, channel). */
  enqueueDelivery(jobId: string, channel: DeliveryChannel, relativePaths: string[], now: number): void;
  dueDeliveries(now: number, limit: number): DeliveryRecord[];
  recordDeliveryAttempt(
    id: number,
    a: { state: DeliveryState; detail: string; ackCode: string | null; nextAttemptAt: number },
    now: number,
  ): void;
  deliveriesForJob(jobId: string): DeliveryRecord[];
  pendingDeliveryCount(): number;

  putClinical(patientKey: string, recordJson: string, now: number): void;
  getClinical(patientKey: string): { recordJson: string; updatedAt: number } | null;

  close(): void;
}
