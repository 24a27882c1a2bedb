import fs from 'node:fs';
import path from 'node:path';
import type { BonemetConfig, DimseDestination } from '../config/schema.ts';
import type { DeliveryChannel, DeliveryRecord, JobStore } from '../jobs/store.ts';
import type { Logger } from '../util/log.ts';
import type { DeliveryOutcome } from './types.ts';

/** The senders (engineer E's modules), injected so the dispatcher only decides WHEN and WHETHER to send. */
export interface Senders {
  cstore(dest: DimseDestination, callingAeTitle: string, files: string[]): Promise<DeliveryOutcome>;
  stow(url: string, headers: Record<string, string>, files: string[]): Promise<DeliveryOutcome>;
  mllp(dest: { host: string; port: number }, message: string, ackTimeoutMs: number): Promise<DeliveryOutcome>;
}

export interface DispatcherHooks {
  onAttempt?(channel: DeliveryChannel, outcome: DeliveryOutcome['status']): void;
}

/** Delay before attempt n+1 after n failed attempts: initial * 2^(n-1), capped. */
export function backoffMs(failedAttempts: number, initialSeconds: number, maxSeconds: number): number {
  const exp = Math.min(30, Math.max(0, failedAttempts - 1));
  return Math.min(maxSeconds, initialSeconds * 2 ** exp) * 1000;
}

/**
 * Outbox: every result waits in the store until its peer acknowledged it. Transient failures are
 * retried with exponential backoff for as long as it takes (a PACS down for a weekend still gets
 * the result); a definite rejection (C-STORE failure status, STOW refusal, HL7 AE/AR) stops the
 * retries and stays visible on the job, because sending the same thing again would fail again.
 */
export class OutboxDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly store: JobStore,
    private readonly senders: Senders,
    private readonly config: BonemetConfig,
    private readonly log: Logger,
    private readonly hooks: DispatcherHooks = {},
  ) {}

  start(pollMs = 1000): void {
    this.timer = setInterval(() => this.notify(), pollMs);
    this.notify();
  }

  /**
   * Stop starting attempts and wait (bounded) for the one in flight. An attempt still running after
   * `graceMs` is abandoned: its delivery stays pending and is sent again after the restart (same UIDs /
   * message control ID, so the peer sees a repeat, not a new result).
   */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    const deadline = Date.now() + graceMs;
    while (this.busy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /** New deliveries may be due: run a pass now (coalesced if one is running). */
  notify(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.pass()
      .catch((e: unknown) => this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'outbox pass failed'))
      .finally(() => {
        this.busy = false;
        if (this.again) {
          this.again = false;
          this.notify();
        }
      });
  }

  /** One pass over the due deliveries; channels proceed independently so a dead EHR does not hold up the PACS. */
  async pass(now = Date.now()): Promise<number> {
    const due = this.store.dueDeliveries(now, 100);
    const byChannel = new Map<DeliveryChannel, DeliveryRecord[]>();
    for (const d of due) byChannel.set(d.channel, [...(byChannel.get(d.channel) ?? []), d]);
    await Promise.all(
      [...byChannel.values()].map(async (list) => {
        for (const d of list) {
          if (this.stopped) return;
          await this.attempt(d);
        }
      }),
    );
    return due.length;
  }

  private async attempt(d: DeliveryRecord): Promise<void> {
    const files = d.relativePaths.map((p) => path.join(this.config.dataDir, p));
    let outcome: DeliveryOutcome;
    if (files.some((f) => !fs.existsSync(f))) {
      outcome = { status: 'rejected', detail: 'result file missing from the data dir' };
    } else {
      try {
        outcome = await this.send(d.channel, files);
      } catch (e) {
        // A sender that throws is a bug or an unexpected network state: treat as transient.
        outcome = { status: 'retry', detail: `sender error: ${e instanceof Error ? e.message : String(e)}` };
      }
    }
    const o = this.config.outbox;
    const next = outcome.status === 'retry' ? Date.now() + backoffMs(d.attempts + 1, o.initialRetrySeconds, o.maxRetrySeconds) : Date.now();
    this.store.recordDeliveryAttempt(
      d.id,
      { state: outcome.status === 'retry' ? 'pending' : outcome.status, detail: outcome.detail.slice(0, 500), ackCode: outcome.ackCode ?? null, nextAttemptAt: next },
      Date.now(),
    );
    this.hooks.onAttempt?.(d.channel, outcome.status);
    const fields = { jobId: d.jobId, channel: d.channel, attempt: d.attempts + 1, status: outcome.status, ack: outcome.ackCode, detail: outcome.detail };
    if (outcome.status === 'delivered') this.log.info(fields, 'delivered');
    else if (outcome.status === 'rejected') this.log.error(fields, 'delivery rejected by the peer: not retried');
    else this.log.warn({ ...fields, retryInS: Math.round((next - Date.now()) / 1000) }, 'delivery failed: will retry');
  }

  private async send(channel: DeliveryChannel, files: string[]): Promise<DeliveryOutcome> {
    const dest = this.config.destinations;
    switch (channel) {
      case 'pacs-dimse':
        if (dest.pacsDimse === null) return { status: 'retry', detail: 'no pacsDimse destination configured any more' };
        return await this.senders.cstore(dest.pacsDimse, this.config.dimse.aeTitle, files);
      case 'pacs-stow':
        if (dest.pacsStowUrl === null) return { status: 'retry', detail: 'no pacsStowUrl destination configured any more' };
        return await this.senders.stow(dest.pacsStowUrl, dest.pacsStowHeaders, files);
      case 'ehr-mllp': {
        if (dest.ehrMllp === null) return { status: 'retry', detail: 'no ehrMllp destination configured any more' };
        const message = fs.readFileSync(files[0]!, 'utf8');
        return await this.senders.mllp(dest.ehrMllp, message, this.config.outbox.ackTimeoutSeconds * 1000);
      }
    }
  }
}
