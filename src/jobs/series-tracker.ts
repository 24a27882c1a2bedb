import type { Logger } from '../util/log.ts';
import type { IngestSink, StoredInstance } from './ingest-sink.ts';
import type { JobStore } from './store.ts';
import { newJobId, newJobOutputIds } from './uids.ts';

/** Modalities we can measure. Anything else still gets a (skipped) job so the user sees why nothing came back. */
const MEASURABLE_MODALITIES = new Set(['CT']);

/**
 * Receives instances from the listeners and decides when a series is complete: after
 * `quietPeriodMs` without a new instance exactly one job is created for everything received.
 * Instances arriving after that job start a new quiet period and, when it ends, a NEW job version
 * covering the whole series (so a late slice is never silently ignored, and results are superseded).
 */
export class SeriesTracker implements IngestSink {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: JobStore,
    private readonly quietPeriodMs: number,
    private readonly log: Logger,
    private readonly onJobCreated: () => void,
    private readonly onInstance: (isNew: boolean) => void = () => {},
  ) {}

  instanceStored(i: StoredInstance): void {
    const isNew = this.store.recordInstance(i, Date.now());
    this.onInstance(isNew);
    if (!isNew) this.log.debug({ via: i.receivedVia }, 'instance already known: ignored');
  }

  /** One pass: create jobs for every series that has been quiet long enough. Returns how many were created. */
  sweep(now = Date.now()): number {
    let created = 0;
    for (const s of this.store.seriesAwaitingJob(now - this.quietPeriodMs)) {
      const skipReason = MEASURABLE_MODALITIES.has(s.modality)
        ? null
        : `modality ${s.modality || '(empty)'} is not CT: nothing to measure`;
      const job = this.store.createJob(
        { id: newJobId(), kind: 'auto', seriesInstanceUID: s.seriesInstanceUID, parentJobId: null, overrideSopInstanceUID: null,
          outputIds: newJobOutputIds(), skipReason },
        now,
      );
      if (job === null) continue;
      created++;
      this.log.info(
        { jobId: job.id, version: job.version, instances: job.instanceCount, state: job.state },
        skipReason ?? 'series complete: job queued',
      );
    }
    if (created > 0) this.onJobCreated();
    return created;
  }

  start(intervalMs = Math.max(200, Math.min(1000, this.quietPeriodMs / 4))): void {
    this.sweep();
    this.timer = setInterval(() => {
      try {
        this.sweep();
      } catch (e) {
        this.log.error({ err: e }, 'series sweep failed');
      }
    }, intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
