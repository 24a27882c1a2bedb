import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { StoredInstance } from '../src/jobs/ingest-sink.ts';
import { SeriesTracker } from '../src/jobs/series-tracker.ts';
import { SqliteJobStore } from '../src/jobs/sqlite-store.ts';
import { createLogger } from '../src/util/log.ts';

// The SQLite job store and the series-completeness rule, on a real database file (reopened to
// stand in for a restart).
const silent = createLogger('fatal', new Writable({ write(_c, _e, cb) { cb(); } }));
const inst = (series: string, n: number, modality = 'CT'): StoredInstance => ({
  studyInstanceUID: '1.2.3', seriesInstanceUID: series, sopInstanceUID: `${series}.${n}`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2',
  modality, path: `/spool/${series}.${n}.dcm`, callingAeTitle: 'X', receivedVia: 'dimse',
});

describe('job store + series tracker', () => {
  let dir: string;
  let file: string;
  let store: SqliteJobStore;
  let created = 0;
  const tracker = (): SeriesTracker => new SeriesTracker(store, 10_000, silent, () => created++);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-store-'));
    file = path.join(dir, 'jobs.sqlite');
    store = new SqliteJobStore(file);
    created = 0;
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('one job per quiet series; repeats harmless; late instances make version 2', () => {
    const t = tracker();
    for (let i = 1; i <= 5; i++) store.recordInstance(inst('1.9.1', i), 1000 + i);
    assert.equal(store.recordInstance(inst('1.9.1', 3), 1010), false, 'same SOP Instance again');
    assert.equal(t.sweep(1005 + 9_999), 0, 'not quiet long enough');
    assert.equal(t.sweep(1005 + 10_000), 1);
    assert.equal(t.sweep(1005 + 20_000), 0, 'no second job for the same instances');
    const [job] = store.listJobs(10);
    assert.equal(job?.instanceCount, 5);
    assert.equal(job?.version, 1);
    store.recordInstance(inst('1.9.1', 6), 50_000);
    assert.equal(t.sweep(55_000), 0);
    assert.equal(t.sweep(60_000), 1);
    const v2 = store.listJobs(10).find((j) => j.version === 2)!;
    assert.equal(v2.instanceCount, 6);
    assert.equal(store.jobInstances(v2.id).length, 6);
    assert.equal(store.jobInstances(job!.id).length, 5, 'version 1 still covers only its own instances');
  });

  it('non-CT series get a visible skipped job', () => {
    store.recordInstance(inst('1.9.2', 1, 'MR'), 0);
    tracker().sweep(20_000);
    const [job] = store.listJobs(10);
    assert.equal(job?.state, 'skipped');
    assert.match(job?.reason ?? '', /modality MR is not CT/);
  });

  it('survives a restart: running -> queued, attempts counted, capped by the runner; shutdown does not count', () => {
    store.recordInstance(inst('1.9.3', 1), 0);
    tracker().sweep(20_000);
    const claimed = store.claimNextJob(21_000)!;
    assert.equal(claimed.state, 'running');
    assert.equal(claimed.attempts, 1);
    store.close();
    store = new SqliteJobStore(file); // "kill -9" and restart
    assert.equal(store.requeueInterrupted(), 1);
    const again = store.claimNextJob(22_000)!;
    assert.equal(again.id, claimed.id);
    assert.equal(again.attempts, 2);
    assert.deepEqual(again.outputIds, claimed.outputIds, 'output UIDs fixed at creation');
    store.releaseForShutdown(again.id);
    assert.equal(store.claimNextJob(23_000)?.attempts, 2, 'graceful shutdown is not an attempt');
  });

  it('deliveries are one per job and channel; attempts and ACK kept', () => {
    store.recordInstance(inst('1.9.4', 1), 0);
    tracker().sweep(20_000);
    const job = store.listJobs(1)[0]!;
    store.enqueueDelivery(job.id, 'ehr-mllp', ['results/x/oru.hl7'], 0);
    store.enqueueDelivery(job.id, 'ehr-mllp', ['results/x/oru.hl7'], 1);
    assert.equal(store.deliveriesForJob(job.id).length, 1);
    const d = store.dueDeliveries(5, 10)[0]!;
    store.recordDeliveryAttempt(d.id, { state: 'pending', detail: 'down', ackCode: null, nextAttemptAt: 100 }, 6);
    assert.equal(store.dueDeliveries(99, 10).length, 0);
    store.recordDeliveryAttempt(d.id, { state: 'delivered', detail: 'ok', ackCode: 'AA', nextAttemptAt: 100 }, 101);
    const [after] = store.deliveriesForJob(job.id);
    assert.equal(after?.attempts, 2);
    assert.equal(after?.ackCode, 'AA');
    assert.equal(after?.deliveredAt, 101);
    assert.equal(store.pendingDeliveryCount(), 0);
  });
});
