import { strict as assert } from 'node:assert';
import { startBonemet, chestCtFiles, waitFor, type BonemetProcess, type JobView } from './e2e-helpers.ts';
import { freePort, startMllpListener, startStorescp, storescu, type MllpListenerPeer, type StorescpPeer } from './peers/index.ts';

/** PACS and EHR are down when the result is ready; the outbox keeps retrying and delivers once they are back. */
describe('e2e: destinations down when the result is ready, delivered when they come back', function () {
  let pacs: StorescpPeer | null = null;
  let ehr: MllpListenerPeer | null = null;
  let bonemet: BonemetProcess;
  let pacsPort: number;
  let ehrPort: number;

  before(async () => {
    pacsPort = await freePort();
    ehrPort = await freePort();
    bonemet = await startBonemet({
      series: { quietPeriodSeconds: 1 },
      destinations: { pacsDimse: { aeTitle: 'PACS', host: '127.0.0.1', port: pacsPort }, ehrMllp: { host: '127.0.0.1', port: ehrPort } },
      outbox: { initialRetrySeconds: 1, maxRetrySeconds: 2, ackTimeoutSeconds: 5 },
    });
  });

  after(async () => {
    await bonemet?.cleanup();
    await ehr?.stop();
    await pacs?.stop();
  });

  it('keeps the result pending with the reason visible, then delivers', async () => {
    const sent = await storescu(chestCtFiles(), { host: '127.0.0.1', port: bonemet.dimsePort, aet: 'BONEMET', extraArgs: ['-xs'] });
    assert.equal(sent.code, 0, sent.output.slice(-2000));
    const pending = await waitFor('retried deliveries', async () => {
      const j = (await bonemet.jobs())[0];
      if (j?.state === 'failed') return j;
      return j?.state === 'done' && j.deliveries.length === 2 && j.deliveries.every((d) => d.state === 'pending' && d.attempts >= 2) ? j : null;
    }, 400_000, () => bonemet.logText().slice(-3000));
    assert.equal(pending.state, 'done', pending.reason ?? '');
    for (const d of pending.deliveries) {
      console.log(`      while down: ${d.channel} pending after ${d.attempts} attempts: ${d.lastDetail}`);
      assert.ok(d.lastDetail && d.lastDetail.length > 0, 'reason for the retry is visible on the job');
    }

    pacs = await startStorescp(undefined, { aet: 'PACS', port: pacsPort });
    ehr = await startMllpListener({ ackCode: 'AA', port: ehrPort });
    const delivered: JobView = await waitFor('delivered after the peers came back', async () => {
      const j = await bonemet.job(pending.id);
      return j.deliveries.every((d) => d.state !== 'pending') ? j : null;
    }, 120_000, () => bonemet.logText().slice(-3000));
    for (const d of delivered.deliveries) {
      console.log(`      back up: ${d.channel} ${d.state} after ${d.attempts} attempts (ack ${d.ackCode ?? '-'})`);
      assert.equal(d.state, 'delivered', `${d.channel}: ${d.lastDetail}`);
    }
    const dicomOutputs = delivered.outputs.filter((o) => o.kind === 'sr' || o.kind === 'heatmap-sc');
    assert.equal(pacs.receivedFiles().length, dicomOutputs.length, 'each DICOM output (SR, heatmap SC if any) once at the PACS');
    assert.equal(pacs.receivedFiles().filter((f) => f.startsWith('SR')).length, 1, 'one SR at the PACS');
    assert.equal(ehr.received.length, 1, 'one ORU at the EHR');
  });
});
