import { strict as assert } from 'node:assert';
import { startBonemet, chestCtFiles, waitFor, type BonemetProcess } from './e2e-helpers.ts';
import { startMllpListener, startOrthanc, storescu, type MllpListenerPeer, type OrthancPeer } from './peers/index.ts';

/** kill -9 in the middle of a job: on restart the job resumes and its results reach the peers exactly once. */
describe('e2e: SIGTERM then kill -9 during a job, restart, exactly one SR and one ORU', function () {
  let orthanc: OrthancPeer;
  let ehr: MllpListenerPeer;
  let bonemet: BonemetProcess;

  before(async () => {
    orthanc = await startOrthanc();
    ehr = await startMllpListener({ ackCode: 'AA' });
    bonemet = await startBonemet({
      series: { quietPeriodSeconds: 1 },
      destinations: { pacsStowUrl: orthanc.dicomWebUrl, pacsStowHeaders: orthanc.authHeader, ehrMllp: { host: ehr.host, port: ehr.port } },
      outbox: { initialRetrySeconds: 1, maxRetrySeconds: 5 },
    });
  });

  after(async () => {
    await bonemet?.cleanup();
    await ehr?.stop();
    await orthanc?.stop();
  });

  it('resumes the interrupted job and delivers once', async () => {
    const sent = await storescu(chestCtFiles(), { host: '127.0.0.1', port: bonemet.dimsePort, aet: 'BONEMET', extraArgs: ['-xs'] });
    assert.equal(sent.code, 0, sent.output.slice(-2000));
    const running = await waitFor('job running', async () => (await bonemet.jobs()).find((j) => j.state === 'running'), 120_000);
    // First a graceful stop (SIGTERM) in the middle of the analysis: the job is re-queued, not failed,
    // and the interrupted start does not count as an attempt.
    await new Promise((r) => setTimeout(r, 1500));
    await bonemet.stop();
    assert.match(bonemet.logText(), /job interrupted by shutdown/);
    await bonemet.start();
    const resumed = await waitFor('job running again', async () => {
      const j = await bonemet.job(running.id);
      return j.state === 'running' ? j : null;
    }, 120_000);
    assert.equal(resumed.attempts, 1, 'a graceful stop is not counted as a crash');
    // Then pull the plug while it is analysing again.
    await new Promise((r) => setTimeout(r, 1500));
    const before = await bonemet.job(running.id);
    assert.equal(before.state, 'running', 'still running when killed');
    await bonemet.kill9();
    assert.equal(await orthanc.instanceCount(), 0, 'nothing delivered before the kill');

    await bonemet.start();
    const done = await waitFor('job delivered after restart', async () => {
      const j = await bonemet.job(running.id);
      if (j.state === 'failed') return j;
      return j.state === 'done' && j.deliveries.length === 2 && j.deliveries.every((d) => d.state !== 'pending') ? j : null;
    }, 400_000, () => bonemet.logText().slice(-3000));
    assert.equal(done.state, 'done', done.reason ?? '');
    assert.equal(done.attempts, 2, 'the job was started twice (before and after the kill)');
    assert.equal((await bonemet.jobs()).length, 1, 'no second job was created');
    for (const d of done.deliveries) assert.equal(d.state, 'delivered', `${d.channel}: ${d.lastDetail}`);
    console.log(`      resumed job: attempts ${done.attempts}; ${done.stages.map((s) => `${s.stage} ${s.ms} ms`).join(', ')}`);

    // Give a duplicate (if any) the chance to arrive before counting.
    await new Promise((r) => setTimeout(r, 3000));
    const series = (await (await fetch(`${orthanc.dicomWebUrl}/studies/${done.studyInstanceUID}/series?Modality=SR`, { headers: orthanc.authHeader })).json()) as unknown[];
    assert.equal(series.length, 1, 'one SR series in Orthanc');
    // The SR, plus the Grad-CAM secondary capture when the shipped model has an image part: each exactly once.
    const dicomOutputs = done.outputs.filter((o) => o.kind === 'sr' || o.kind === 'heatmap-sc').length;
    assert.equal(await orthanc.instanceCount(), dicomOutputs, `exactly ${dicomOutputs} instance(s) (SR, heatmap SC) in Orthanc`);
    const srInstances = (await (await fetch(`${orthanc.dicomWebUrl}/studies/${done.studyInstanceUID}/instances?Modality=SR`, { headers: orthanc.authHeader })).json()) as unknown[];
    assert.equal(srInstances.length, 1, 'exactly one SR');
    assert.equal(ehr.received.length, 1, 'exactly one ORU at the EHR');
    assert.match(bonemet.logText(), /resuming jobs interrupted/);
  });
});
