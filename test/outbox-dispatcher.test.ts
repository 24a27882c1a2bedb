import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../src/config/load.ts';
import { SqliteJobStore } from '../src/jobs/sqlite-store.ts';
import { newJobOutputIds } from '../src/jobs/uids.ts';
import { networkSenders as senders } from '../src/cli/serve.ts';
import { backoffMs, OutboxDispatcher } from '../src/outbox/dispatcher.ts';
import { createLogger } from '../src/util/log.ts';
import { freePort, startMllpListener, type MllpListenerPeer } from './peers/index.ts';

// The dispatcher's delivery policy against a real MLLP peer (node-hl7-server) and the real senders.
const ORU = ['MSH|^~\\&|BONEMET|BONEMET|EHR|HOSPITAL|20261123120000||ORU^R01^ORU_R01|TESTCTRL0001|P|2.5.1', 'PID|1||X', 'OBR|1', 'OBX|1|NM|SFA^SFA^99BONEMET||1|cm2'].join('\r');
const silent = createLogger('fatal', new Writable({ write(_c, _e, cb) { cb(); } }));

describe('outbox dispatcher (real MLLP peer)', () => {
  let dir: string;
  let store: SqliteJobStore;
  let peer: MllpListenerPeer | null = null;
  let seq = 0;

  function jobWithOru(): string {
    const n = ++seq;
    const series = `1.2.3.${n}`;
    store.recordInstance({ studyInstanceUID: '1.2.3', seriesInstanceUID: series, sopInstanceUID: `${series}.1`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', modality: 'CT', path: '/nonexistent', callingAeTitle: null, receivedVia: 'dimse' }, 0);
    const job = store.createJob({ id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, kind: 'auto', seriesInstanceUID: series, parentJobId: null, overrideSopInstanceUID: null, outputIds: newJobOutputIds(), skipReason: null }, 0)!;
    fs.mkdirSync(path.join(dir, 'results', job.id), { recursive: true });
    fs.writeFileSync(path.join(dir, 'results', job.id, 'oru.hl7'), ORU);
    store.enqueueDelivery(job.id, 'ehr-mllp', [path.join('results', job.id, 'oru.hl7')], 0);
    return job.id;
  }

  function dispatcherFor(port: number): OutboxDispatcher {
    const config = parseConfig({ dataDir: dir, destinations: { ehrMllp: { host: '127.0.0.1', port } }, outbox: { initialRetrySeconds: 1, maxRetrySeconds: 4, ackTimeoutSeconds: 3 } });
    return new OutboxDispatcher(store, senders, config, silent);
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-outbox-'));
    store = new SqliteJobStore(path.join(dir, 'jobs.sqlite'));
  });
  afterEach(async () => {
    await peer?.stop();
    peer = null;
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backoff doubles from the initial delay and is capped', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 12].map((n) => backoffMs(n, 5, 60)), [5000, 10000, 20000, 40000, 60000, 60000]);
  });

  it('AA: delivered once, ACK code recorded, not sent again', async () => {
    peer = await startMllpListener({ ackCode: 'AA' });
    const jobId = jobWithOru();
    const d = dispatcherFor(peer.port);
    await d.pass(Date.now());
    await d.pass(Date.now() + 3_600_000);
    const [delivery] = store.deliveriesForJob(jobId);
    assert.equal(delivery?.state, 'delivered');
    assert.equal(delivery?.ackCode, 'AA');
    assert.equal(delivery?.attempts, 1);
    assert.equal(peer.received.length, 1);
  });

  for (const code of ['AR', 'AE'] as const) {
    it(`${code}: rejected, kept visible on the job, never retried`, async () => {
      peer = await startMllpListener({ ackCode: code });
      const jobId = jobWithOru();
      const d = dispatcherFor(peer.port);
      await d.pass(Date.now());
      assert.equal(await d.pass(Date.now() + 3_600_000), 0, 'nothing due after a rejection');
      const [delivery] = store.deliveriesForJob(jobId);
      assert.equal(delivery?.state, 'rejected', delivery?.lastDetail ?? '');
      assert.equal(delivery?.ackCode, code);
      assert.equal(delivery?.attempts, 1);
      assert.equal(peer.received.length, 1);
      console.log(`      ${code}: ${delivery?.lastDetail}`);
    });
  }

  it('peer down: pending with growing backoff and the reason, delivered once it is up', async () => {
    const port = await freePort();
    const jobId = jobWithOru();
    const d = dispatcherFor(port);
    const t0 = Date.now();
    await d.pass(t0);
    let [delivery] = store.deliveriesForJob(jobId);
    assert.equal(delivery?.state, 'pending');
    assert.ok((delivery?.lastDetail ?? '').length > 0);
    const firstDelay = delivery!.nextAttemptAt - delivery!.lastAttemptAt!;
    assert.equal(await d.pass(delivery!.nextAttemptAt - 1), 0, 'not due before the backoff ends');
    await d.pass(delivery!.nextAttemptAt);
    [delivery] = store.deliveriesForJob(jobId);
    const secondDelay = delivery!.nextAttemptAt - delivery!.lastAttemptAt!;
    assert.equal(delivery?.attempts, 2);
    assert.ok(secondDelay > firstDelay, `backoff grows (${firstDelay} -> ${secondDelay} ms)`);
    peer = await startMllpListener({ ackCode: 'AA', port });
    await d.pass(delivery!.nextAttemptAt);
    [delivery] = store.deliveriesForJob(jobId);
    assert.equal(delivery?.state, 'delivered', delivery?.lastDetail ?? '');
    assert.equal(peer.received.length, 1);
  });
});
