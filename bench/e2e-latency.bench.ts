/**
 * End-to-end latency benchmark on the hospital path, with real peers:
 *   storescu -xs chest-ct-1 (255 slices) -> Orthanc -> Lua OnStableSeries routes the CT to bonemet
 *   -> bonemet (quiet period, analysis, risk, reports) -> SR (+ heatmap SC) C-STOREd back to Orthanc.
 * Measured per run (fresh Orthanc + fresh `bonemet serve` each run, so every run sees a new series):
 *   t0 = bonemet's own record of the LAST instance of the series (series.last_instance_at in its store;
 *        the HTTP API does not expose per-instance times, so the store is read read-only after the run),
 *   t1 = the pacs-dimse delivery's deliveredAt (set when Orthanc's C-STORE response came back).
 * Breakdown of t1 - t0: quiet period wait (series.quietPeriodSeconds = 2 here), queue, the job's stages
 * (load/analyze/risk/report/heatmap/write/enqueue), delivery (outbox pick-up + C-STORE to Orthanc).
 * Same-run baseline: the wall time storescu needs to send the series to Orthanc (the PACS's own ingest).
 * TCP_NODELAY defaults to 1 here (as in ingest.bench.ts mode A): with dcmtk's Nagle-on default storescu ->
 * Orthanc is latency-bound (~19 inst/s, ~13.5 s for the series), a baseline ~12x slower than the PACS can
 * ingest. Run with TCP_NODELAY=0 to see that case (the variable reaches storescu and Orthanc, both dcmtk).
 * BENCH_RUNS runs (default 3), medians. Each run takes ~40-60 s on 2 cores.
 * Run: npm run bench:e2e (also part of npm run bench:ingest)
 */
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chestCtFiles, startBonemet, waitFor, type BonemetProcess, type JobView } from '../test/e2e-helpers.ts';
import { freePort, startOrthanc, storescu, type OrthancPeer } from '../test/peers/index.ts';
import { median } from './lib.ts';

const runs = Number(process.env.BENCH_RUNS ?? 3);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS must be a positive integer, got ${process.env.BENCH_RUNS}`);
const QUIET_PERIOD_SECONDS = 2;
// Inherited by storescu and Orthanc (spawned with this environment); an explicit caller value wins.
process.env.TCP_NODELAY ??= '1';
const ORTHANC_STABLE_AGE_SECONDS = 2;
const files = chestCtFiles();

/** The job view as served by GET /api/jobs/:id, with the timestamps the shared JobView type leaves out. */
interface TimedJobView extends JobView {
  seriesInstanceUID: string; createdAt: string; startedAt: string | null; finishedAt: string | null;
  deliveries: (JobView['deliveries'][number] & { deliveredAt: string | null; files: string[] })[];
}

interface RunTimes {
  storescuMs: number; // baseline: modality -> Orthanc
  orthancStableMs: number; // storescu done -> first routed instance at bonemet (Orthanc StableAge + job start)
  routeTransferMs: number; // first -> last routed instance stored by bonemet (Orthanc's C-STORE to bonemet)
  quietMs: number; // last instance -> job created
  queueMs: number; // job created -> job started
  stagesMs: Map<string, number>;
  computeMs: number; // job started -> job finished (all stages)
  unstagedMs: number; // compute time outside the named stages (compute worker hand-off, bookkeeping)
  deliveryMs: number; // job finished -> Orthanc acknowledged the SR C-STORE
  e2eMs: number; // last instance received -> SR acknowledged
  srFiles: number;
}

const ms = (iso: string | null | undefined): number => (iso ? Date.parse(iso) : NaN);

/** Reads bonemet's own record of when it stored the first and last instance of the series. */
function instanceTimes(bonemet: BonemetProcess, seriesInstanceUID: string): { first: number; last: number; count: number } {
  const db = new Database(path.join(bonemet.dataDir, 'data', 'bonemet.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare('SELECT MIN(received_at) AS first, MAX(received_at) AS last, COUNT(*) AS n FROM instances WHERE series_instance_uid = ?')
      .get(seriesInstanceUID) as { first: number | null; last: number | null; n: number };
    if (row.first === null || row.last === null) throw new Error('no instances recorded for the routed series');
    return { first: row.first, last: row.last, count: row.n };
  } finally {
    db.close();
  }
}

async function oneRun(): Promise<RunTimes> {
  let orthanc: OrthancPeer | null = null;
  let bonemet: BonemetProcess | null = null;
  try {
    const dimsePort = await freePort();
    orthanc = await startOrthanc({ bonemetAe: { aet: 'BONEMET', host: '127.0.0.1', port: dimsePort }, luaRouteCtOnly: true, stableAgeSeconds: ORTHANC_STABLE_AGE_SECONDS });
    const pacs = orthanc;
    bonemet = await startBonemet({
      logLevel: 'info',
      dimse: { port: dimsePort, allowedCallingAeTitles: [pacs.aet] },
      series: { quietPeriodSeconds: QUIET_PERIOD_SECONDS },
      destinations: { pacsDimse: { aeTitle: pacs.aet, host: '127.0.0.1', port: pacs.dicomPort } },
      outbox: { initialRetrySeconds: 1, maxRetrySeconds: 5 },
    });
    const service = bonemet;

    const sendStart = Date.now();
    const sent = await storescu(files, { host: '127.0.0.1', port: pacs.dicomPort, aet: pacs.aet, extraArgs: ['-xs'] });
    const sendEnd = Date.now();
    if (sent.code !== 0) throw new Error(`storescu -> Orthanc failed (${sent.code}): ${sent.output.slice(-1000)}`);

    const listed = await waitFor('job with its PACS delivery settled', async () => {
      const j = (await service.jobs())[0];
      if (j === undefined || j.state === 'queued' || j.state === 'running') return null;
      if (j.state !== 'done') throw new Error(`job ${j.state}: ${j.reason}`);
      return j.deliveries.length > 0 && j.deliveries.every((d) => d.state !== 'pending') ? j : null;
    }, 400_000, () => service.logText().slice(-3000));
    const job = (await service.job(listed.id)) as TimedJobView;
    const pacsDelivery = job.deliveries.find((d) => d.channel === 'pacs-dimse');
    if (pacsDelivery?.state !== 'delivered') throw new Error(`SR not delivered to Orthanc: ${pacsDelivery?.state}: ${pacsDelivery?.lastDetail}`);
    if (job.instanceCount !== files.length) throw new Error(`job covers ${job.instanceCount}/${files.length} instances (series split by the quiet period?)`);

    const received = instanceTimes(service, job.seriesInstanceUID);
    const created = ms(job.createdAt);
    const started = ms(job.startedAt);
    const finished = ms(job.finishedAt);
    const delivered = ms(pacsDelivery.deliveredAt);
    const stagesMs = new Map<string, number>();
    for (const s of job.stages) stagesMs.set(s.stage, (stagesMs.get(s.stage) ?? 0) + s.ms);
    return {
      storescuMs: sendEnd - sendStart,
      orthancStableMs: received.first - sendEnd,
      routeTransferMs: received.last - received.first,
      quietMs: created - received.last,
      queueMs: started - created,
      stagesMs,
      computeMs: finished - started,
      unstagedMs: finished - started - [...stagesMs.values()].reduce((a, b) => a + b, 0),
      deliveryMs: delivered - finished,
      e2eMs: delivered - received.last,
      srFiles: pacsDelivery.files.length,
    };
  } finally {
    await bonemet?.cleanup();
    await orthanc?.stop();
  }
}

const s = (x: number): string => (Number.isFinite(x) ? (x / 1000).toFixed(2) : '-');
const col = (x: string, n = 9): string => x.padStart(n);

console.log(`End-to-end latency: storescu -xs ${files.length} CT slices -> Orthanc (StableAge ${ORTHANC_STABLE_AGE_SECONDS} s, Lua route) -> bonemet (quietPeriodSeconds ${QUIET_PERIOD_SECONDS}) -> SR C-STORE to Orthanc`);
console.log(`${runs} run(s), ${os.cpus().length} CPUs, TCP_NODELAY=${process.env.TCP_NODELAY}${process.env.TCP_NODELAY === '0' ? ' (Nagle on: storescu baseline latency-bound)' : ''}; fresh Orthanc + bonemet per run; seconds`);
const results: RunTimes[] = [];
for (let run = 1; run <= runs; run++) {
  results.push(await oneRun());
  process.stdout.write(`  run ${run}/${runs} done\n`);
}

const stageNames = [...new Set(results.flatMap((r) => [...r.stagesMs.keys()]))];
const headers = ['run', 'storescu', 'orth-stbl', 'route', 'quiet', 'queue', ...stageNames, 'unstaged', 'compute', 'delivery', 'E2E', 'E2E/scu'];
console.log(`\n${headers.map((h, i) => col(h, i === 0 ? 4 : 9)).join(' ')}`);
const row = (name: string, r: Omit<RunTimes, 'srFiles'>): string =>
  [col(name, 4), ...[r.storescuMs, r.orthancStableMs, r.routeTransferMs, r.quietMs, r.queueMs, ...stageNames.map((n) => r.stagesMs.get(n) ?? NaN), r.unstagedMs, r.computeMs, r.deliveryMs, r.e2eMs].map((x) => col(s(x))), col((r.e2eMs / r.storescuMs).toFixed(2))].join(' ');
results.forEach((r, i) => console.log(row(String(i + 1), r)));
const med = {
  storescuMs: median(results.map((r) => r.storescuMs)),
  orthancStableMs: median(results.map((r) => r.orthancStableMs)),
  routeTransferMs: median(results.map((r) => r.routeTransferMs)),
  quietMs: median(results.map((r) => r.quietMs)),
  queueMs: median(results.map((r) => r.queueMs)),
  stagesMs: new Map(stageNames.map((n) => [n, median(results.map((r) => r.stagesMs.get(n) ?? NaN))])),
  computeMs: median(results.map((r) => r.computeMs)),
  unstagedMs: median(results.map((r) => r.unstagedMs)),
  deliveryMs: median(results.map((r) => r.deliveryMs)),
  e2eMs: median(results.map((r) => r.e2eMs)),
};
console.log(row('med', med));
console.log(`\ncolumns: storescu = modality -> Orthanc wall time (baseline); orth-stbl = storescu finished -> first routed instance at bonemet (Orthanc StableAge ${ORTHANC_STABLE_AGE_SECONDS} s + Lua/job start);`);
console.log(`  route = first -> last instance stored by bonemet (Orthanc's C-STORE of the series to bonemet);`);
console.log(`  quiet = last instance -> job created (quiet period ${QUIET_PERIOD_SECONDS} s + sweep tick); queue = created -> started; stage columns = job stage timings; unstaged = compute minus the stages;`);
console.log(`  compute = job started -> finished; delivery = finished -> Orthanc's C-STORE response for the SR (${results[0]?.srFiles ?? '?'} file(s): SR and heatmap SC when made);`);
console.log(`  E2E = last instance received by bonemet -> SR acknowledged by Orthanc; E2E/scu = E2E / storescu baseline.`);
console.log(`\nmedian end-to-end (last instance received -> SR acknowledged by Orthanc): ${s(med.e2eMs)} s = quiet ${s(med.quietMs)} + queue ${s(med.queueMs)} + compute ${s(med.computeMs)} + delivery ${s(med.deliveryMs)} s; ${(med.e2eMs / med.storescuMs).toFixed(2)}x the ${s(med.storescuMs)} s Orthanc takes to receive the series from storescu`);
console.log(`median without the configured quiet period: ${s(med.e2eMs - QUIET_PERIOD_SECONDS * 1000)} s (production default quietPeriodSeconds is 10: add 8 s)`);
