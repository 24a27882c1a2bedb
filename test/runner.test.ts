import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../src/config/load.ts';
import { InProcessComputer } from '../src/jobs/compute.ts';
import { JobRunner, MAX_ATTEMPTS } from '../src/jobs/runner.ts';
import { SeriesTracker } from '../src/jobs/series-tracker.ts';
import { SqliteJobStore } from '../src/jobs/sqlite-store.ts';
import type { JobRecord } from '../src/jobs/store.ts';
import { createLogger } from '../src/util/log.ts';
import { runTool } from './peers/index.ts';
import { chestCtFiles, dicomHeader as header } from './e2e-helpers.ts';

// A job that keeps getting interrupted (crash loop) is given up, and the PACS/EHR still get an SR/ORU
// saying the series could not be processed. Real spool files (chest-ct-1, read in place), real builders.
const silent = createLogger('fatal', new Writable({ write(_c, _e, cb) { cb(); } }));

describe('job runner: crash loop -> failed job with a "could not process" report', () => {
  let dir: string;
  let store: SqliteJobStore;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-runner-'));
    store = new SqliteJobStore(path.join(dir, 'jobs.sqlite'));
  });
  after(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`gives up after ${MAX_ATTEMPTS} interrupted runs, reports why, and queues the report for the EHR`, async () => {
    for (const file of chestCtFiles().slice(0, 3)) {
      const h = header(file);
      store.recordInstance({ studyInstanceUID: String(h.StudyInstanceUID), seriesInstanceUID: String(h.SeriesInstanceUID), sopInstanceUID: String(h.SOPInstanceUID),
        sopClassUID: String(h.SOPClassUID), modality: 'CT', path: file, callingAeTitle: null, receivedVia: 'dimse' }, 0);
    }
    new SeriesTracker(store, 1000, silent, () => {}).sweep(10_000);
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      assert.ok(store.claimNextJob(20_000 + i)); // started...
      store.requeueInterrupted(); // ...and killed
    }
    const config = parseConfig({ dataDir: dir, destinations: { ehrMllp: { host: '127.0.0.1', port: 9 } } });
    let finished: JobRecord | null = null;
    const runner = new JobRunner(store, new InProcessComputer(), config, silent, '0.0.0-test', { onJobFinished: (j) => { finished = j; } });
    runner.start();
    const deadline = Date.now() + 60_000;
    while (finished === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await runner.stop();
    const job = finished as JobRecord | null;
    assert.ok(job, 'job finished');
    assert.equal(job.state, 'failed');
    assert.match(job.reason ?? '', new RegExp(`interrupted ${MAX_ATTEMPTS} times`));
    assert.deepEqual(job.outputs.map((o) => o.kind).sort(), ['oru', 'result-json', 'sr']);
    assert.equal(store.deliveriesForJob(job.id).length, 1, 'ORU queued for the EHR');
    const sr = path.join(dir, job.outputs.find((o) => o.kind === 'sr')!.relativePath);
    const dump = (await runTool('dsrdump', ['+Pl', sr])).stdout;
    assert.match(dump, /could not process this series/);
    const oru = fs.readFileSync(path.join(dir, job.outputs.find((o) => o.kind === 'oru')!.relativePath), 'utf8');
    assert.match(oru, /could not process this series/);
  });
});
