/**
 * C-STORE ingest benchmark: chest-ct-1 (255 JPEG-lossless slices) sent by dcmtk `storescu -xs` to
 *   (a) bonemet's C-STORE SCP (validate + fsync + rename + fsync dir + job-store callback per instance), and
 *   (b) dcmtk `storescp -od <tmp>` (writes files, no fsync) as the same-run baseline,
 * interleaved, BENCH_RUNS times (default 5), in three modes: A one association with TCP_NODELAY=1 for
 * dcmtk (the fair comparison), C four concurrent associations, B dcmtk's Nagle-on default. Also times
 * the same series as one STOW-RS POST and measures the disk's durable-write floor.
 * Prints a table, the medians (instances/s) and the ratio bonemet/storescp (goal >= 0.9).
 * Run: npm run bench:ingest
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { pino } from 'pino';
import { configSchema } from '../src/config/schema.ts';
import type { StoredInstance } from '../src/jobs/ingest-sink.ts';
import { startDimseListener } from '../src/listener/dimse-scp.ts';
import { createStowRouter } from '../src/listener/stow.ts';
import { runTool, startStorescp } from '../test/peers/index.ts';
import { median } from './lib.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const chestDir = path.resolve(here, '../../shared/data/ct/chest-ct-1/dicom');
const files = fs.readdirSync(chestDir).sort().map((f) => path.join(chestDir, f));
const runs = Number(process.env.BENCH_RUNS ?? 5);
const logger = pino({ level: 'silent' });

/** Number of concurrent storescu associations (each sends a contiguous share of the files). */
let associations = 1;

async function timeStorescu(port: number, aet: string): Promise<number> {
  const shares = Array.from({ length: associations }, (_, k) => files.filter((_f, i) => Math.floor((i * associations) / files.length) === k));
  const t0 = performance.now();
  const results = await Promise.all(
    shares.map((share) => runTool('storescu', ['-xs', '-aet', 'STORESCU', '-aec', aet, '127.0.0.1', String(port), ...share])),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const result of results) {
    if (result.code !== 0) throw new Error(`storescu to ${aet} failed (${result.code}): ${result.output.slice(-500)}`);
  }
  return seconds;
}

async function benchBonemet(): Promise<number> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-bonemet-'));
  const stored: StoredInstance[] = [];
  const config = configSchema.parse({ dataDir, dimse: { port: 0 } });
  const listener = await startDimseListener(config, { instanceStored: (i) => void stored.push(i) }, logger);
  try {
    const seconds = await timeStorescu(listener.port, config.dimse.aeTitle);
    if (stored.length !== files.length) throw new Error(`bonemet stored ${stored.length}/${files.length}`);
    return seconds;
  } finally {
    await listener.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchStorescp(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-storescp-'));
  const scp = await startStorescp(dir);
  try {
    const seconds = await timeStorescu(scp.port, scp.aet);
    const n = scp.receivedFiles().length;
    if (n !== files.length) throw new Error(`storescp stored ${n}/${files.length}`);
    return seconds;
  } finally {
    await scp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function benchStow(body: Buffer, contentType: string): Promise<number> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-stow-'));
  const stored: StoredInstance[] = [];
  const config = configSchema.parse({ dataDir });
  const app = express();
  app.use('/dicomweb', createStowRouter({ config, sink: { instanceStored: (i) => void stored.push(i) }, logger }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicomweb/studies`;
    const t0 = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': contentType }, body });
    await res.text();
    const seconds = (performance.now() - t0) / 1000;
    if (res.status !== 200 || stored.length !== files.length) throw new Error(`STOW: HTTP ${res.status}, stored ${stored.length}`);
    return seconds;
  } finally {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const boundary = 'bench-boundary-7d1f';
const stowBody = Buffer.concat(
  files.flatMap((f) => [Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), fs.readFileSync(f), Buffer.from('\r\n')]).concat([Buffer.from(`--${boundary}--\r\n`)]),
);
const stowType = `multipart/related; type="application/dicom"; boundary=${boundary}`;

interface Row {
  run: number;
  bonemet: number;
  storescp: number;
  stow: number;
}

const pad = (x: string, n: number): string => x.padStart(n);

async function runMode(label: string, tcpNoDelay: boolean, withStow: boolean, parallelAssociations = 1): Promise<{ bonemet: number; storescp: number; stow: number }> {
  // dcmtk honours the TCP_NODELAY environment variable; Debian's build leaves Nagle on by default, which
  // caps storescu->storescp at ~22 instances/s (each response waits for the peer's delayed ACK).
  if (tcpNoDelay) process.env.TCP_NODELAY = '1';
  else delete process.env.TCP_NODELAY;
  associations = parallelAssociations;
  const rows: Row[] = [];
  for (let run = 1; run <= runs; run++) {
    // Alternate which side goes first so drift (page cache, other load) does not favour one.
    let bonemet: number;
    let storescp: number;
    if (run % 2) {
      bonemet = await benchBonemet();
      storescp = await benchStorescp();
    } else {
      storescp = await benchStorescp();
      bonemet = await benchBonemet();
    }
    const stow = withStow ? await benchStow(stowBody, stowType) : NaN;
    rows.push({ run, bonemet: files.length / bonemet, storescp: files.length / storescp, stow: files.length / stow });
  }
  console.log(`\n${label}`);
  console.log(`${pad('run', 4)} ${pad('bonemet SCP inst/s', 19)} ${pad('dcmtk storescp inst/s', 22)} ${pad('ratio', 6)}${withStow ? pad('bonemet STOW inst/s', 21) : ''}`);
  const line = (name: string, r: { bonemet: number; storescp: number; stow: number }): void =>
    console.log(`${pad(name, 4)} ${pad(r.bonemet.toFixed(1), 19)} ${pad(r.storescp.toFixed(1), 22)} ${pad((r.bonemet / r.storescp).toFixed(2), 6)}${withStow ? pad(r.stow.toFixed(1), 21) : ''}`);
  for (const r of rows) line(String(r.run), r);
  const med = { bonemet: median(rows.map((r) => r.bonemet)), storescp: median(rows.map((r) => r.storescp)), stow: median(rows.map((r) => r.stow)) };
  line('med', med);
  return med;
}

/** The floor set by durability on this disk: write + fdatasync + rename + fsync(dir) per instance. */
async function durableWriteFloorMs(): Promise<{ durable: number; plain: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fsync-'));
  const bytes = fs.readFileSync(files[0] as string);
  const n = 50;
  try {
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await fs.promises.writeFile(path.join(dir, `plain-${i}`), bytes);
    const plain = (performance.now() - t0) / n;
    fs.mkdirSync(path.join(dir, 'series'));
    t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const tmp = path.join(dir, `tmp-${i}`);
      const h = await fs.promises.open(tmp, 'w');
      await h.writeFile(bytes);
      await h.datasync();
      await h.close();
      await fs.promises.rename(tmp, path.join(dir, 'series', `i-${i}`));
      const d = await fs.promises.open(path.join(dir, 'series'), 'r');
      await d.sync();
      await d.close();
    }
    return { durable: (performance.now() - t0) / n, plain };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`C-STORE ingest of ${files.length} instances (${(stowBody.length / 1e6).toFixed(1)} MB), storescu -xs, ${runs} interleaved runs per mode, ${os.cpus().length} CPUs`);
const fair = await runMode('Mode A: TCP_NODELAY=1 for dcmtk (storescp at full speed; the fair comparison)', true, true);
const parallel = await runMode('Mode C: TCP_NODELAY=1, 4 concurrent associations (as a PACS router with several store jobs)', true, false, 4);
const stock = await runMode('Mode B: dcmtk defaults (Nagle on: storescp latency-bound)', false, false);
const floor = await durableWriteFloorMs();
console.log(`\nmedian C-STORE ingest, mode A: bonemet ${fair.bonemet.toFixed(1)} inst/s vs storescp ${fair.storescp.toFixed(1)} inst/s -> ratio ${(fair.bonemet / fair.storescp).toFixed(2)} (goal >= 0.90: ${fair.bonemet / fair.storescp >= 0.9 ? 'met' : 'NOT met'})`);
console.log(`median C-STORE ingest, mode C: bonemet ${parallel.bonemet.toFixed(1)} inst/s vs storescp ${parallel.storescp.toFixed(1)} inst/s -> ratio ${(parallel.bonemet / parallel.storescp).toFixed(2)}`);
console.log(`median C-STORE ingest, mode B: bonemet ${stock.bonemet.toFixed(1)} inst/s vs storescp ${stock.storescp.toFixed(1)} inst/s -> ratio ${(stock.bonemet / stock.storescp).toFixed(2)}`);
console.log(`median STOW-RS ingest (one POST of the series): ${fair.stow.toFixed(1)} inst/s`);
console.log(`durable write floor on this disk: ${floor.durable.toFixed(2)} ms/instance (write+fdatasync+rename+fsync dir, max ${(1000 / floor.durable).toFixed(0)} inst/s for a one-at-a-time SCU) vs ${floor.plain.toFixed(2)} ms plain write (storescp does not fsync)`);
console.log(`bench process maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
