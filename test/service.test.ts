import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import dcmjs from 'dcmjs';
import { parseConfig } from '../src/config/load.ts';
import { startService, type RunningService } from '../src/cli/serve.ts';
import type { StoredInstance } from '../src/jobs/ingest-sink.ts';
import { createLogger } from '../src/util/log.ts';
import { CHEST_CT_PATIENT_ID as PATIENT_ID, chestCtFiles, dicomHeader as header, waitFor } from './e2e-helpers.ts';

// In-process service on the real chest CT (read in place from ../shared), fed through the ingest sink
// exactly as the listeners do; the HTTP API is exercised over real HTTP.

function storedInstance(file: string): StoredInstance {
  const h = header(file);
  return {
    studyInstanceUID: String(h.StudyInstanceUID), seriesInstanceUID: String(h.SeriesInstanceUID),
    sopInstanceUID: String(h.SOPInstanceUID), sopClassUID: String(h.SOPClassUID), modality: String(h.Modality),
    path: file, callingAeTitle: 'TESTSCU', receivedVia: 'dimse',
  };
}

const JOB_TIMEOUT_MS = 300_000;

interface JobJson { id: string; state: string; version: number; kind: string; instanceCount: number; outcome: string | null; reason: string | null;
  stages: { stage: string; ok: boolean; ms: number }[]; outputs: { kind: string; sopInstanceUID: string | null }[]; attempts: number }

describe('service (in-process, chest-ct-1 through the ingest sink)', function () {
  let dataDir: string;
  let service: RunningService;
  let base: string;
  let logText = '';
  const instances = chestCtFiles().map(storedInstance);

  const api = async (p: string, init: RequestInit = {}): Promise<Response> => fetch(`${base}${p}`, init);
  const jobs = async (): Promise<JobJson[]> => ((await (await api('/api/jobs')).json()) as { jobs: JobJson[] }).jobs;
  const auth = (): Record<string, string> => ({ Authorization: `Bearer ${service.apiToken}`, 'Content-Type': 'application/json' });

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-svc-'));
    const config = parseConfig({ dataDir, http: { port: 0 }, dimse: { port: 0 }, series: { quietPeriodSeconds: 0.5 }, logLevel: 'debug' });
    const sinkStream = new Writable({ write(chunk, _enc, cb) { logText += String(chunk); cb(); } });
    service = await startService(config, createLogger('debug', sinkStream));
    base = `http://127.0.0.1:${service.httpPort}`;
  });

  after(async () => {
    await service?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates exactly one job for a complete series (repeats harmless) and serves SR + result', async () => {
    for (const i of instances) service.sink.instanceStored(i);
    service.sink.instanceStored(instances[10]!); // same SOP Instance twice
    const job = await waitFor('job done', async () => {
      const all = await jobs();
      return all.length === 1 && all[0]!.state !== 'queued' && all[0]!.state !== 'running' ? all[0]! : null;
    }, JOB_TIMEOUT_MS);
    assert.equal((await jobs()).length, 1, 'one job');
    assert.equal(job.state, 'done', `job state ${job.state}: ${job.reason}`);
    assert.equal(job.instanceCount, 255);
    console.log(`      job ${job.outcome}; stages: ${job.stages.map((s) => `${s.stage} ${s.ms} ms`).join(', ')}`);
    for (const s of ['load', 'analyze', 'report', 'write', 'enqueue']) assert.ok(job.stages.some((x) => x.stage === s && x.ok), `stage ${s} recorded`);

    assert.equal((await api(`/api/jobs/${job.id}/sr`)).status, 401, 'the SR holds patient identifiers: token required');
    const sr = await api(`/api/jobs/${job.id}/sr`, { headers: auth() });
    assert.equal(sr.status, 200);
    assert.equal(sr.headers.get('content-type'), 'application/dicom');
    const srBytes = new Uint8Array(await sr.arrayBuffer());
    assert.equal(Buffer.from(srBytes.subarray(128, 132)).toString('latin1'), 'DICM');
    const srDs = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(srBytes.buffer).dict) as Record<string, unknown>;
    assert.equal(srDs.SOPInstanceUID, job.outputs.find((o) => o.kind === 'sr')?.sopInstanceUID);
    assert.equal(srDs.StudyInstanceUID, instances[0]!.studyInstanceUID);

    const result = (await (await api(`/api/jobs/${job.id}/result`)).json()) as {
      assessable: boolean; sr: { sopInstanceUID: string }; warnings: string[];
      bodyComposition: { sfaCm2: number; sfiCm2M2: number | null } | null; measuredSlice: { zMm: number } | null };
    assert.equal(result.sr.sopInstanceUID, srDs.SOPInstanceUID);
    console.log(`      result: assessable=${result.assessable} slice z=${result.measuredSlice?.zMm} (reference T11 body -278.0 .. -259.0) bodyComposition=${JSON.stringify(result.bodyComposition)}`);
    assert.equal(result.assessable, true, 'chest-ct-1 has T11 fully in view');
    assert.ok(result.measuredSlice !== null && result.measuredSlice.zMm <= -259 && result.measuredSlice.zMm >= -278, `measured slice z ${result.measuredSlice?.zMm} inside T11`);
    // No height anywhere (no clinical data, no PatientSize): areas without indices, and it says so.
    assert.equal(result.bodyComposition?.sfiCm2M2, null);
    assert.ok(result.warnings.some((w) => /height/i.test(w)), 'height flag in warnings');
  });

  it('new instances after a finished job make a new job version that corrects the earlier SR', async () => {
    const first = (await jobs())[0]!;
    service.sink.instanceStored({ ...instances[0]!, sopInstanceUID: `${instances[0]!.sopInstanceUID}.9` });
    const v2 = await waitFor('version 2 done', async () => {
      const j = (await jobs()).find((x) => x.version === 2);
      return j !== undefined && j.state !== 'queued' && j.state !== 'running' ? j : null;
    }, JOB_TIMEOUT_MS);
    assert.equal(v2.state, 'done', v2.reason ?? '');
    assert.equal(v2.instanceCount, 256);
    const result = (await (await api(`/api/jobs/${v2.id}/result`)).json()) as { correction: { replacesSopInstanceUID: string } | null };
    assert.equal(result.correction?.replacesSopInstanceUID, first.outputs.find((o) => o.kind === 'sr')?.sopInstanceUID);
  });

  it('clinical data: token required, values validated with the field named, stored', async () => {
    const url = `/api/patients/${encodeURIComponent(PATIENT_ID)}/clinical`;
    assert.equal((await api(url, { method: 'PUT', body: '{"heightCm":165}', headers: { 'Content-Type': 'application/json' } })).status, 401);
    const bad = await api(url, { method: 'PUT', headers: auth(), body: JSON.stringify({ heightCm: 1.65, er: 2, shoeSize: 40 }) });
    assert.equal(bad.status, 400);
    const problems = ((await bad.json()) as { problems: string[] }).problems.join(' | ');
    assert.match(problems, /heightCm/);
    assert.match(problems, /er:/);
    assert.match(problems, /shoeSize: unknown field/);
    const big = await api(url, { method: 'PUT', headers: auth(), body: JSON.stringify({ age: 50, pad: 'x'.repeat(70_000) }) });
    assert.equal(big.status, 413);
    const ok = await api(url, { method: 'PUT', headers: auth(), body: JSON.stringify({ heightCm: 158, weightKg: 60, age: 85, er: 1 }) });
    assert.equal(ok.status, 200);
    const back = (await (await api(url, { headers: auth() })).json()) as { record: { heightCm: number } };
    assert.equal(back.record.heightCm, 158);
  });

  it('override: re-measures at the radiologist\'s slice as a corrected job', async () => {
    const parent = (await jobs()).find((j) => j.version === 2)!;
    const in190 = instances[189]!.sopInstanceUID;
    assert.equal((await api(`/api/jobs/${parent.id}/override`, { method: 'POST', body: JSON.stringify({ T11: in190 }) })).status, 401);
    assert.equal((await api(`/api/jobs/${parent.id}/override`, { method: 'POST', headers: auth(), body: JSON.stringify({ T11: '1.2.3' }) })).status, 400);
    const res = await api(`/api/jobs/${parent.id}/override`, { method: 'POST', headers: auth(), body: JSON.stringify({ T11: in190 }) });
    assert.equal(res.status, 202);
    const created = (await res.json()) as JobJson;
    const done = await waitFor('override done', async () => {
      const j = (await (await api(`/api/jobs/${created.id}`)).json()) as JobJson;
      return j.state === 'done' || j.state === 'failed' ? j : null;
    }, JOB_TIMEOUT_MS);
    assert.equal(done.state, 'done', done.reason ?? '');
    assert.equal(done.kind, 'override');
    const result = (await (await api(`/api/jobs/${done.id}/result`)).json()) as {
      correction: { replacesSopInstanceUID: string } | null; measuredSlice: { sopInstanceUID: string; source: string } | null;
      bodyComposition: { sfaCm2: number; sfiCm2M2: number | null; heightSource: string | null } | null };
    assert.equal(result.correction?.replacesSopInstanceUID, parent.outputs.find((o) => o.kind === 'sr')?.sopInstanceUID);
    assert.equal(result.measuredSlice?.sopInstanceUID, in190);
    assert.equal(result.measuredSlice?.source, 'override');
    // The clinical height stored above (158 cm) is used for the indices.
    const b = result.bodyComposition!;
    assert.equal(b.heightSource, 'clinical');
    assert.ok(b.sfiCm2M2 !== null && Math.abs(b.sfiCm2M2 - b.sfaCm2 / 1.58 ** 2) < 0.05, `SFI ${b.sfiCm2M2} = SFA ${b.sfaCm2} / 1.58^2`);
    console.log(`      override at IN 190: ${JSON.stringify(b)}`);
  });

  it('API token file is 0600; STOW-RS needs the token; a repeated instance by STOW makes no new job', async () => {
    assert.equal(fs.statSync(path.join(dataDir, 'api-token')).mode & 0o777, 0o600);
    const before = (await jobs()).length;
    const boundary = 'bonemetTestBoundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
      fs.readFileSync(instances[5]!.path),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const headers = { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, Accept: 'application/dicom+json' };
    assert.equal((await api('/dicomweb/studies', { method: 'POST', headers, body })).status, 401);
    const ok = await api('/dicomweb/studies', { method: 'POST', headers: { ...headers, Authorization: `Bearer ${service.apiToken}` }, body });
    assert.equal(ok.status, 200, await ok.text());
    await new Promise((r) => setTimeout(r, 1500)); // > quiet period
    assert.equal((await jobs()).length, before, 'same SOP Instance again: no new job');
  });

  it('health and metrics answer; logs carry no patient name or ID', async () => {
    const health = (await (await api('/healthz')).json()) as { status: string; jobs: Record<string, number> };
    assert.equal(health.status, 'ok');
    const metrics = await (await api('/metrics')).text();
    assert.match(metrics, /bonemet_jobs\{state="done"\} [1-9]/);
    assert.match(metrics, /bonemet_instances_received_total\{new="true"\} 256/);
    assert.ok(logText.length > 1000, 'debug log captured');
    assert.ok(!logText.includes(PATIENT_ID), 'patient ID in logs');
    assert.ok(!logText.includes('MIDRC'), 'patient name/ID fragment in logs'); // (UIDs of this series contain 419639, so that is no test)
    assert.equal((await api('/api/jobs/not-a-job')).status, 404);
    const done = ((await (await api('/api/jobs?state=done')).json()) as { jobs: JobJson[] }).jobs;
    assert.ok(done.length >= 3 && done.every((j) => j.state === 'done'));
    assert.equal((await api('/api/jobs?state=bogus')).status, 400);
  });
});
