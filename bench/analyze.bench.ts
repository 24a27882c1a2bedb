/**
 * npm run bench:analyze
 *
 * Per shared CT series: median (of RUNS) times of each analysis stage, with a decode-only baseline
 * of the same series measured in the same run (header parse + pixel decode of every file, nothing
 * kept), the whole-analysis / decode ratio, and the peak RSS of a fresh process analysing it.
 * Then a 1000-slice series (chest-ct-1 slices repeated with fresh SOP UIDs and shifted z, written to
 * a temp dir) analysed in a child process for peak RSS. Goals: whole analysis <= 1.5x decode-only,
 * <= 10 s for chest-ct-1, peak RSS <= 1 GB for 1000 slices of 512x512.
 *
 * Child mode (internal): `tsx bench/analyze.bench.ts --child <dir>` analyses one directory and
 * prints {"maxRssMb", "ms", "slices", "assessable"} as JSON.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import dcmjs from 'dcmjs';
import { decodeSliceHu, readSliceHeader } from '../src/analysis/decode.ts';
import { buildCtVolume } from '../src/analysis/volume.ts';
import { findVertebralLevels } from '../src/analysis/levels.ts';
import { segmentTissues } from '../src/analysis/tissue.ts';
import { measureBodyComposition } from '../src/analysis/measures.ts';
import { analyzeSeries } from '../src/analysis/index.ts';
import { PADDING_HU } from '../src/analysis/types.ts';
import { lazyInputs } from '../test/helpers/ct-data.ts';
import { median } from './lib.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CT_DATA = path.resolve(HERE, '..', '..', 'shared', 'data', 'ct');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BIG_SLICES = Number(process.env.BENCH_BIG_SLICES ?? 1000);

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile());
}

async function timed<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
}

/** Baseline: what any reader must do anyway (read, parse, decode each file), nothing assembled. */
async function decodeOnly(files: string[]): Promise<void> {
  for (const input of lazyInputs(files)) {
    const bytes = input.bytes;
    const h = readSliceHeader(bytes, input.label);
    await decodeSliceHu(bytes, h, PADDING_HU);
  }
}

async function child(dir: string, volumeOnly: boolean): Promise<void> {
  if (volumeOnly) {
    const [volume, ms] = await timed(() => buildCtVolume(lazyInputs(listFiles(dir))));
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(JSON.stringify({ maxRssMb, ms, slices: volume.slices, assessable: false }) + '\n');
    return;
  }
  const [out, ms] = await timed(() => analyzeSeries(lazyInputs(listFiles(dir))));
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ maxRssMb, ms, slices: out.volume.slices, assessable: out.result.assessable }) + '\n');
}

function runChild(dir: string, volumeOnly = false): { maxRssMb: number; ms: number; slices: number; assessable: boolean } {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', dir, ...(volumeOnly ? ['--volume-only'] : [])];
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    cwd: path.resolve(HERE, '..'),
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`child failed for ${dir}: ${r.stderr.slice(-500)}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line);
}

/** chest-ct-1 repeated to `slices` instances: fresh SOP UIDs, z continuing downwards, same pixels. */
function buildBigSeries(dir: string, slices: number): void {
  const { DicomMessage, DicomMetaDictionary, DicomDict } = dcmjs.data;
  const source = listFiles(path.join(CT_DATA, 'chest-ct-1', 'dicom'));
  const seriesUid = `2.25.${Date.now()}${process.pid}`;
  for (let k = 0; k < slices; k++) {
    const b = fs.readFileSync(source[k % source.length]!);
    const d = DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const ds = DicomMetaDictionary.naturalizeDataset(d.dict);
    const meta = DicomMetaDictionary.naturalizeDataset(d.meta);
    const uid = `${seriesUid}.${k + 1}`;
    ds.SOPInstanceUID = uid;
    meta.MediaStorageSOPInstanceUID = uid;
    ds.SeriesInstanceUID = seriesUid;
    ds.InstanceNumber = k + 1;
    const ipp = ds.ImagePositionPatient.map(Number);
    ds.ImagePositionPatient = [ipp[0], ipp[1], -31.75 - 1.25 * k];
    const out = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
    out.dict = DicomMetaDictionary.denaturalizeDataset(ds);
    fs.writeFileSync(path.join(dir, `${String(k + 1).padStart(4, '0')}.dcm`), Buffer.from(out.write()));
  }
}

async function main(): Promise<void> {
  const childIdx = process.argv.indexOf('--child');
  if (childIdx >= 0) return child(process.argv[childIdx + 1]!, process.argv.includes('--volume-only'));
  dcmjs.log?.setLevel?.('error');

  console.log(`bench:analyze  runs=${RUNS} (medians), node ${process.version}, ${os.cpus().length} CPU(s), load ${os.loadavg()[0]!.toFixed(2)}`);
  const header = 'series              slices  decode-only  volume  levels  segment  measure  whole    whole/decode  peak RSS';
  console.log(header);
  const results: string[] = [];
  for (const name of ['chest-ct-1', 'j2k-ct', 'totalseg-abdomen']) {
    const files = listFiles(path.join(CT_DATA, name, 'dicom'));
    const t = { decode: [] as number[], volume: [] as number[], levels: [] as number[], segment: [] as number[], measure: [] as number[], whole: [] as number[] };
    let slices = 0;
    for (let run = 0; run < RUNS; run++) {
      // Alternate baseline and analysis inside each run so both see the same machine load.
      t.decode.push((await timed(() => decodeOnly(files)))[1]);
      const [volume, tv] = await timed(() => buildCtVolume(lazyInputs(files)));
      slices = volume.slices;
      const [finding, tl] = await timed(() => findVertebralLevels(volume));
      const k = finding.levels.T11?.midSliceIndex ?? Math.floor(volume.slices / 2);
      const [masks, ts] = await timed(() => segmentTissues(volume, k));
      const [, tm] = await timed(() => measureBodyComposition(masks, volume.pixelSpacingMm, null));
      t.volume.push(tv);
      t.levels.push(tl);
      t.segment.push(ts);
      t.measure.push(tm);
      t.whole.push((await timed(() => analyzeSeries(lazyInputs(files))))[1]);
    }
    const rss = runChild(path.join(CT_DATA, name, 'dicom'));
    const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<keyof typeof t, number>;
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const line =
      `${name.padEnd(19)} ${String(slices).padStart(6)}  ${s(m.decode).padStart(11)}  ${s(m.volume).padStart(6)}  ${s(m.levels).padStart(6)}  ` +
      `${s(m.segment).padStart(7)}  ${(m.measure.toFixed(1) + ' ms').padStart(7)}  ${s(m.whole).padStart(7)}  ${(m.whole / m.decode).toFixed(2).padStart(12)}  ${rss.maxRssMb.toFixed(0).padStart(5)} MB`;
    console.log(line);
    results.push(line);
    if (name === 'chest-ct-1') {
      console.log(`  goal chest-ct-1: whole <= 10 s -> ${m.whole <= 10000 ? 'met' : 'NOT met'}; whole/decode <= 1.5 -> ${m.whole / m.decode <= 1.5 ? 'met' : 'NOT met'}`);
    }
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-bench-big-'));
  try {
    const [, tb] = await timed(() => buildBigSeries(dir, BIG_SLICES));
    console.log(`built ${BIG_SLICES}-slice series (chest-ct-1 repeated, JPEG lossless) in ${(tb / 1000).toFixed(1)} s`);
    const bigVolume = runChild(dir, true);
    console.log(
      `${BIG_SLICES}-slice 512x512: volume build only ${(bigVolume.ms / 1000).toFixed(1)} s, peak RSS ${bigVolume.maxRssMb.toFixed(0)} MB ` +
        `(hu Int16 = ${((BIG_SLICES * 512 * 512 * 2) / 2 ** 20).toFixed(0)} MB of it; the volume-wide padding mask is only built on access)`,
    );
    const big = runChild(dir);
    console.log(
      `${BIG_SLICES}-slice 512x512: whole analysis ${(big.ms / 1000).toFixed(1)} s, peak RSS ${big.maxRssMb.toFixed(0)} MB ` +
        `(goal <= 1024 MB -> ${big.maxRssMb <= 1024 ? 'met' : 'NOT met'}), assessable ${big.assessable}`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
