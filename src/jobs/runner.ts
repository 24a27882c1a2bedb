import fs from 'node:fs';
import path from 'node:path';
import type { BonemetConfig } from '../config/schema.ts';
import type { ClinicalRecord } from '../model/types.ts';
import type { SourceStudyContext } from '../report/types.ts';
import type { Logger } from '../util/log.ts';
import { writeFileAtomic } from '../util/fs-atomic.ts';
import type { ComputeRequest, ComputeResult, JobComputer } from './pipeline.ts';
import type { DeliveryChannel, JobOutput, JobRecord, JobStore, StageTiming } from './store.ts';
import { patientKey } from './uids.ts';

/** A job interrupted this many times (crash, kill -9 mid-job) is failed instead of crashing the service forever. */
export const MAX_ATTEMPTS = 3;

export interface RunnerHooks {
  /** Called after a job reaches a final state (metrics, waking the dispatcher). */
  onJobFinished?(job: JobRecord): void;
  onStage?(t: StageTiming): void;
}

function dicomDate(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getFullYear(), 4)}${p(d.getMonth() + 1)}${p(d.getDate())}`;
}
function dicomTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Error text that is safe to store on a job and log: first line, bounded length. */
function describeError(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return (text.split('\n')[0] ?? '').slice(0, 500);
}

/**
 * The one place that decides a job's fate: reads the spool, runs the compute pipeline, writes
 * the outputs to <dataDir>/results/<jobId>/ and enqueues deliveries. Jobs run one at a time
 * (2-core machine, and a CT series needs ~hundreds of MB while analysed).
 */
export class JobRunner {
  private wake: (() => void) | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private current: string | null = null;

  constructor(
    private readonly store: JobStore,
    private readonly computer: JobComputer,
    private readonly config: BonemetConfig,
    private readonly log: Logger,
    private readonly softwareVersion: string,
    private readonly hooks: RunnerHooks = {},
  ) {}

  get currentJobId(): string | null {
    return this.current;
  }

  /** Resume interrupted jobs, then process the queue until stop(). */
  start(): void {
    const requeued = this.store.requeueInterrupted();
    if (requeued > 0) this.log.warn({ requeued }, 'resuming jobs interrupted by a previous stop or crash');
    this.loop = this.run();
  }

  /** Something new may be queued. */
  notify(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const job = this.store.claimNextJob(Date.now());
      if (job === null) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, 2000).unref();
        });
        this.wake = null;
        continue;
      }
      this.current = job.id;
      try {
        await this.process(job);
      } catch (e) {
        if (this.stopped) break;
        // Anything unexpected still ends the job visibly instead of leaving it 'running'.
        this.log.error({ jobId: job.id, err: describeError(e) }, 'job failed unexpectedly');
        this.store.failJob(job.id, `internal error: ${describeError(e)}`, Date.now());
      } finally {
        this.current = null;
      }
      if (this.stopped) break;
      const final = this.store.getJob(job.id);
      if (final !== null) this.hooks.onJobFinished?.(final);
    }
  }

  private stage(jobId: string, stage: string, startedAt: number, ok: boolean, detail: string | null): void {
    const t: StageTiming = { stage, startedAt, durationMs: Date.now() - startedAt, ok, detail };
    this.store.recordStage(jobId, t);
    this.hooks.onStage?.(t);
  }

  private fail(job: JobRecord, stage: string, startedAt: number, reason: string): void {
    this.stage(job.id, stage, startedAt, false, reason);
    this.store.failJob(job.id, reason, Date.now());
    this.log.error({ jobId: job.id, stage, reason }, 'job failed');
  }

  private async process(job: JobRecord): Promise<void> {
    const log = this.log.child({ jobId: job.id });
    // Timings of an interrupted earlier run would mix with this one's: the job view shows one run.
    this.store.clearStages(job.id);
    if (job.attempts > 1) {
      log.warn({ attempt: job.attempts }, 'resuming interrupted job');
    } else {
      log.info({ version: job.version, kind: job.kind, instances: job.instanceCount }, 'job started');
    }

    // --- load: the spool files the job covers, and the study context from one of them
    let t0 = Date.now();
    const instances = this.store.jobInstances(job.id);
    const present = instances.filter((i) => fs.existsSync(i.path));
    if (present.length === 0) {
      return this.fail(job, 'load', t0, `no readable instance files in the spool (${instances.length} recorded)`);
    }
    const missing = instances.length - present.length;
    let clinical: ClinicalRecord | null = null;
    let source: SourceStudyContext;
    try {
      source = await this.computer.readSource(present[0]!.path);
      const key = patientKey(source.patientId);
      this.store.setPatientKey(job.id, key);
      const stored = this.store.getClinical(key);
      clinical = stored === null ? null : (JSON.parse(stored.recordJson) as ClinicalRecord);
    } catch (e) {
      return this.fail(job, 'load', t0, `cannot read the study context: ${describeError(e)}`);
    }
    this.stage(job.id, 'load', t0, true,
      `${present.length} instances${missing > 0 ? `, ${missing} missing from the spool` : ''}; clinical data ${clinical === null ? 'absent' : 'found'}`);
    const request = this.computeRequest(job, present.map((i) => i.path), source, clinical);
    const extraWarnings = missing > 0 ? [`${missing} instance file(s) missing from the spool were left out`] : [];

    if (job.attempts > MAX_ATTEMPTS) {
      // Crash loop (e.g. the process is killed while analysing this series): stop trying, but tell the PACS/EHR.
      const reason = `processing was interrupted ${job.attempts - 1} times; giving up (see service log)`;
      log.error({ attempts: job.attempts }, 'job interrupted too often');
      return this.failWithReport(job, request, reason, extraWarnings);
    }

    // --- compute: analysis, risk model, report objects (pure; runs in a worker)
    t0 = Date.now();
    let result: ComputeResult;
    try {
      result = await this.computer.compute(request);
    } catch (e) {
      if (this.stopped) return this.releaseForShutdown(job, log);
      this.stage(job.id, 'compute', t0, false, describeError(e));
      return this.failWithReport(job, request, describeError(e), extraWarnings);
    }
    if (this.stopped) return this.releaseForShutdown(job, log);
    const written = this.writeAndEnqueue(job, result, extraWarnings);
    if (written === null) return;

    const assessable = result.analysis.assessable;
    this.store.finishJob(job.id, {
      outcome: assessable ? 'measured' : 'not-assessable',
      reason: assessable ? null : result.analysis.reason,
      warnings: written.warnings,
      resultJson: written.resultJson,
    }, Date.now());
    log.info({ outcome: assessable ? 'measured' : 'not-assessable', deliveries: written.queued.length }, 'job done');
  }

  /** Shutdown interrupted the job: the next start resumes it (not counted as a crash). */
  private releaseForShutdown(job: JobRecord, log: Logger): void {
    this.store.releaseForShutdown(job.id);
    log.warn('job interrupted by shutdown: resumes at the next start');
  }

  /**
   * The job failed: still send an SR/ORU that say the series could not be processed and why, so the
   * radiologist is not left waiting for a result that will never come. The job itself ends 'failed'.
   */
  private async failWithReport(job: JobRecord, request: ComputeRequest, reason: string, extraWarnings: string[]): Promise<void> {
    const t0 = Date.now();
    try {
      const report = await this.computer.compute({ ...request, failure: `bonemet could not process this series: ${reason}` });
      if (this.writeAndEnqueue(job, report, extraWarnings) === null) return;
    } catch (e) {
      this.stage(job.id, 'failure-report', t0, false, describeError(e));
    }
    this.store.failJob(job.id, reason, Date.now());
    this.log.error({ jobId: job.id, reason }, 'job failed');
  }

  private computeRequest(job: JobRecord, paths: string[], source: SourceStudyContext, clinical: ClinicalRecord | null): ComputeRequest {
    const created = new Date(job.createdAt);
    return {
      jobId: job.id,
      paths,
      source,
      atSliceSopInstanceUID: job.overrideSopInstanceUID,
      failure: null,
      correction: this.correctionFor(job),
      outputIds: job.outputIds,
      contentDate: dicomDate(created),
      contentTime: dicomTime(created),
      clinical,
      huWindows: this.config.analysis.huWindows,
      minT11Confidence: this.config.analysis.minT11Confidence,
      modelEnabled: this.config.model.enabled,
      modelDir: path.resolve(this.config.model.dir),
      institutionName: this.config.institutionName,
      hl7: this.config.hl7,
      softwareVersion: this.softwareVersion,
    };
  }

  /**
   * Record the compute stages, write the outputs under results/<jobId>/ (atomic; same UIDs on a re-run,
   * so rewriting is harmless) and enqueue one delivery per configured destination. Null when writing failed
   * (the job is then failed).
   */
  private writeAndEnqueue(job: JobRecord, result: ComputeResult, extraWarnings: string[]): { warnings: string[]; resultJson: string; queued: DeliveryChannel[] } | null {
    for (const s of result.stages) {
      this.store.recordStage(job.id, s);
      this.hooks.onStage?.(s);
    }
    let t0 = Date.now();
    const outputs: JobOutput[] = [];
    const rel = (name: string): string => path.join('results', job.id, name);
    const write = (kind: JobOutput['kind'], name: string, data: Uint8Array | string, sop: string | null): void => {
      writeFileAtomic(path.join(this.config.dataDir, rel(name)), data);
      const o = { kind, relativePath: rel(name), sopInstanceUID: sop };
      this.store.addOutput(job.id, o);
      outputs.push(o);
    };
    const warnings = [...result.analysis.warnings, ...result.warnings, ...extraWarnings];
    const resultJson = JSON.stringify(this.resultDocument(job, result, warnings), null, 2);
    try {
      if (result.sr !== null) write('sr', 'sr.dcm', result.sr.bytes, result.sr.sopInstanceUID);
      if (result.heatmapSc !== null) write('heatmap-sc', 'heatmap-sc.dcm', result.heatmapSc.bytes, result.heatmapSc.sopInstanceUID);
      if (result.oru !== null) write('oru', 'oru.hl7', result.oru, null);
      write('result-json', 'result.json', resultJson, null);
    } catch (e) {
      this.fail(job, 'write', t0, `cannot write results: ${describeError(e)}`);
      return null;
    }
    this.stage(job.id, 'write', t0, true, outputs.map((o) => o.kind).join(', '));

    t0 = Date.now();
    const queued = this.enqueueDeliveries(job, outputs);
    this.stage(job.id, 'enqueue', t0, true, queued.length === 0 ? 'no destination configured: results kept in the data dir' : queued.join(', '));
    return { warnings, resultJson, queued };
  }

  private correctionFor(job: JobRecord): ComputeRequest['correction'] {
    if (job.kind === 'override') {
      const parent = job.parentJobId === null ? null : this.store.getJob(job.parentJobId);
      return {
        reason: 'Radiologist override of the T11 level: re-measured at the slice chosen by the radiologist',
        replacesSopInstanceUID: parent?.outputs.some((o) => o.kind === 'sr') ? parent.outputIds.srSopInstanceUID : null,
        replacesSeriesInstanceUID: parent?.outputs.some((o) => o.kind === 'sr') ? parent.outputIds.srSeriesInstanceUID : null,
      };
    }
    if (job.version > 1) {
      const previous = this.store.previousDoneJob(job.seriesInstanceUID, job.version);
      if (previous !== null && previous.outputs.some((o) => o.kind === 'sr')) {
        return {
          reason: 'Series received again with additional instances: re-analysed',
          replacesSopInstanceUID: previous.outputIds.srSopInstanceUID,
          replacesSeriesInstanceUID: previous.outputIds.srSeriesInstanceUID,
        };
      }
    }
    return null;
  }

  private enqueueDeliveries(job: JobRecord, outputs: JobOutput[]): DeliveryChannel[] {
    const d = this.config.destinations;
    const dicomFiles = outputs.filter((o) => o.kind === 'sr' || o.kind === 'heatmap-sc').map((o) => o.relativePath);
    const oru = outputs.filter((o) => o.kind === 'oru').map((o) => o.relativePath);
    const queued: DeliveryChannel[] = [];
    const now = Date.now();
    const add = (channel: DeliveryChannel, files: string[]): void => {
      if (files.length === 0) return;
      this.store.enqueueDelivery(job.id, channel, files, now);
      queued.push(channel);
    };
    if (d.pacsDimse !== null) add('pacs-dimse', dicomFiles);
    if (d.pacsStowUrl !== null) add('pacs-stow', dicomFiles);
    if (d.ehrMllp !== null) add('ehr-mllp', oru);
    return queued;
  }

  /** The JSON served at GET /api/jobs/:id/result: the same numbers as the SR, no patient identifiers. */
  private resultDocument(job: JobRecord, r: ComputeResult, warnings: string[]): unknown {
    const a = r.analysis;
    return {
      jobId: job.id,
      version: job.version,
      kind: job.kind,
      studyInstanceUID: job.studyInstanceUID,
      seriesInstanceUID: job.seriesInstanceUID,
      assessable: a.assessable,
      reason: a.reason,
      measuredSlice: a.measuredSlice,
      bodyComposition: a.bodyComposition,
      levels: a.levelFinding,
      algorithm: a.algorithm,
      risk: r.risk,
      sr: r.sr === null ? null : { sopInstanceUID: r.sr.sopInstanceUID, seriesInstanceUID: r.sr.seriesInstanceUID },
      correction: this.correctionFor(job),
      warnings,
      researchUseOnly: true,
    };
  }
}
