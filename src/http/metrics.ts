import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobStore } from '../jobs/store.ts';

/** Prometheus metrics of the service (own registry so tests can run several services in one process). */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly instancesReceived: Counter<'new'>;
  readonly jobsFinished: Counter<'state' | 'outcome'>;
  readonly stageDuration: Histogram<'stage' | 'ok'>;
  readonly deliveryAttempts: Counter<'channel' | 'status'>;

  constructor(store: JobStore) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'bonemet_process_' });
    this.instancesReceived = new Counter({
      name: 'bonemet_instances_received_total', help: 'DICOM instances stored by the listeners (new=false: repeats)',
      labelNames: ['new'], registers,
    });
    this.jobsFinished = new Counter({
      name: 'bonemet_jobs_finished_total', help: 'Jobs that reached a final state', labelNames: ['state', 'outcome'], registers,
    });
    this.stageDuration = new Histogram({
      name: 'bonemet_job_stage_duration_seconds', help: 'Duration of job stages', labelNames: ['stage', 'ok'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers,
    });
    this.deliveryAttempts = new Counter({
      name: 'bonemet_delivery_attempts_total', help: 'Outbox delivery attempts by channel and outcome',
      labelNames: ['channel', 'status'], registers,
    });
    new Gauge({
      name: 'bonemet_jobs', help: 'Jobs in the store by state', labelNames: ['state'], registers,
      collect() {
        for (const [state, n] of Object.entries(store.counts())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'bonemet_outbox_pending', help: 'Deliveries waiting for an acknowledgement', registers,
      collect() {
        this.set(store.pendingDeliveryCount());
      },
    });
  }
}
