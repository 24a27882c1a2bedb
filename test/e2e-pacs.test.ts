import { strict as assert } from 'node:assert';
import { startBonemet, chestCtFiles, CHEST_CT_PATIENT_ID, waitFor, type BonemetProcess, type JobView } from './e2e-helpers.ts';
import { runTool, startMllpListener, startOrthanc, storescu, type MllpListenerPeer, type OrthancPeer } from './peers/index.ts';
import { freePort } from './peers/index.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The hospital path: modality (storescu) -> Orthanc -> Lua routes the stable CT series to bonemet ->
 * bonemet measures and sends the SR back to Orthanc by C-STORE and the ORU to the EHR by MLLP.
 */
describe('e2e: Orthanc routes a CT to bonemet; SR back in Orthanc, ORU at the EHR', function () {
  let orthanc: OrthancPeer;
  let ehr: MllpListenerPeer;
  let bonemet: BonemetProcess;
  let job: JobView;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-e2e-pacs-'));

  before(async () => {
    const dimsePort = await freePort();
    orthanc = await startOrthanc({ bonemetAe: { aet: 'BONEMET', host: '127.0.0.1', port: dimsePort }, luaRouteCtOnly: true, stableAgeSeconds: 2 });
    ehr = await startMllpListener({ ackCode: 'AA' });
    bonemet = await startBonemet({
      dimse: { port: dimsePort, allowedCallingAeTitles: [orthanc.aet] },
      series: { quietPeriodSeconds: 2 },
      destinations: { pacsDimse: { aeTitle: orthanc.aet, host: '127.0.0.1', port: orthanc.dicomPort }, ehrMllp: { host: ehr.host, port: ehr.port } },
      outbox: { initialRetrySeconds: 1, maxRetrySeconds: 5 },
    });
  });

  after(async () => {
    await bonemet?.cleanup();
    await ehr?.stop();
    await orthanc?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('storescu -> Orthanc -> bonemet: one job, delivered to both destinations', async () => {
    const sent = await storescu(chestCtFiles(), { host: '127.0.0.1', port: orthanc.dicomPort, aet: orthanc.aet, extraArgs: ['-xs'] });
    assert.equal(sent.code, 0, sent.output.slice(-2000));
    job = await waitFor('job delivered', async () => {
      const jobs = await bonemet.jobs();
      const j = jobs[0];
      if (j === undefined || j.state === 'queued' || j.state === 'running') return null;
      if (j.state !== 'done') return j;
      return j.deliveries.length === 2 && j.deliveries.every((d) => d.state !== 'pending') ? j : null;
    }, 400_000, () => bonemet.logText().slice(-3000));
    const jobs = await bonemet.jobs();
    assert.equal(jobs.length, 1, 'exactly one job for the routed series');
    assert.equal(job.state, 'done', `${job.state}: ${job.reason}`);
    assert.equal(job.instanceCount, 255);
    console.log(`      outcome ${job.outcome}${job.reason ? ` (${job.reason})` : ''}; stages ${job.stages.map((s) => `${s.stage} ${s.ms} ms`).join(', ')}`);
    for (const d of job.deliveries) {
      console.log(`      ${d.channel}: ${d.state} after ${d.attempts} attempt(s), ack ${d.ackCode ?? '-'}: ${d.lastDetail}`);
      assert.equal(d.state, 'delivered', `${d.channel}: ${d.lastDetail}`);
    }
    assert.equal(job.deliveries.find((d) => d.channel === 'ehr-mllp')?.ackCode, 'AA');
  });

  it('the SR is in Orthanc (QIDO-RS), references the T11 site, and passes dciodvfy', async () => {
    const srSop = job.outputs.find((o) => o.kind === 'sr')?.sopInstanceUID;
    assert.ok(srSop);
    const qido = await fetch(`${orthanc.dicomWebUrl}/studies/${job.studyInstanceUID}/series?Modality=SR`, { headers: orthanc.authHeader });
    assert.equal(qido.status, 200);
    const series = (await qido.json()) as Record<string, { Value?: string[] }>[];
    assert.equal(series.length, 1, 'one SR series in the study');
    const lookup = await orthanc.postJson<{ ID: string; Type: string }[]>('/tools/lookup', srSop);
    const instance = lookup.find((l) => l.Type === 'Instance');
    assert.ok(instance, 'SR instance found by SOP Instance UID');
    const file = path.join(tmp, 'sr.dcm');
    const res = await fetch(`${orthanc.baseUrl}/instances/${instance.ID}/file`, { headers: orthanc.authHeader });
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const v = await runTool('dciodvfy', [file]);
    const errors = v.output.split('\n').filter((l) => l.startsWith('Error'));
    console.log(`      dciodvfy: ${errors.length} errors, ${v.output.split('\n').filter((l) => l.startsWith('Warning')).length} warnings`);
    assert.deepEqual(errors, []);
    const dump = (await runTool('dsrdump', [file])).stdout;
    assert.match(dump, /T11 vertebra/);
    const result = (await (await fetch(`${bonemet.base}/api/jobs/${job.id}/result`)).json()) as { assessable: boolean; bodyComposition: { sfaCm2: number; vfaCm2: number; esmaCm2: number } | null };
    if (result.assessable) {
      assert.ok(result.bodyComposition);
      // The SR carries the same numbers as the JSON result (dsrdump prints NUM values as "value" (unit)).
      for (const v of [result.bodyComposition.sfaCm2, result.bodyComposition.vfaCm2, result.bodyComposition.esmaCm2]) {
        assert.ok(dump.includes(`"${String(v)}"`) || dump.includes(String(Math.round(v * 100) / 100)), `value ${v} in SR`);
      }
      console.log(`      T11: SFA ${result.bodyComposition.sfaCm2} VFA ${result.bodyComposition.vfaCm2} ESMA ${result.bodyComposition.esmaCm2} cm2`);
    } else {
      assert.match(dump, /not assessable|Reason not assessable/i);
    }
  });

  it('the Grad-CAM heatmap SC (when the model made one) is in Orthanc too and passes dciodvfy', async function () {
    const sc = job.outputs.find((o) => o.kind === 'heatmap-sc');
    if (sc === undefined) {
      console.log(`      no heatmap SC (risk: ${job.warnings.filter((w) => /risk|model/i.test(w)).join('; ') || 'no image model'})`);
      this.skip();
    }
    const lookup = await orthanc.postJson<{ ID: string; Type: string }[]>('/tools/lookup', sc!.sopInstanceUID);
    const instance = lookup.find((l) => l.Type === 'Instance');
    assert.ok(instance, 'heatmap SC in Orthanc');
    const file = path.join(tmp, 'sc.dcm');
    fs.writeFileSync(file, Buffer.from(await (await fetch(`${orthanc.baseUrl}/instances/${instance.ID}/file`, { headers: orthanc.authHeader })).arrayBuffer()));
    const errors = (await runTool('dciodvfy', [file])).output.split('\n').filter((l) => l.startsWith('Error'));
    assert.deepEqual(errors, []);
  });

  it('the EHR received exactly one ORU^R01', () => {
    assert.equal(ehr.received.length, 1);
    assert.match(ehr.received[0]!, /^MSH\|\^~\\&\|[^\r]*ORU\^R01/);
  });

  it('privacy: the service log never contains the patient name or ID', () => {
    const log = bonemet.logText();
    assert.ok(log.length > 1000);
    assert.ok(!log.includes(CHEST_CT_PATIENT_ID), 'patient name/ID in the log');
    assert.ok(!log.includes('419639-000082'), 'patient ID fragment in the log');
  });
});
