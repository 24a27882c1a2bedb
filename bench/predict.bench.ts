/**
 * `npm run bench:predict`: time per case of the risk model on real cohort T11 images.
 * Reports medians over several runs (after one warm-up) of
 *   - baseline: channel computation alone (decode + fat mask + HOG + LBP: src/model/channels.ts)
 *   - predict(): CNN + clinical GBDT + combined GBDT + Grad-CAM heatmap and PNG, channels given
 *   - end to end: channels + predict()
 * and the peak RSS. Goal: end to end <= 1 s per case on this machine.
 * Options: --model-dir <dir> (default models/shipped), --runs <n> (default 7).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseCsv } from '../src/cli/cohort-predict.ts';
import { buildModelChannels } from '../src/model/channels.ts';
import { parseClinicalRecord } from '../src/model/clinical.ts';
import { cohortModelInputs, decodeJpegToGrey } from '../src/model/cohort-image.ts';
import { loadRiskModel } from '../src/model/index.ts';
import { median } from './lib.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = new Command()
  .option('--model-dir <dir>', 'model directory', path.join(here, '..', 'models', 'shipped'))
  .option('--runs <n>', 'timed runs per measurement', (v) => parseInt(v, 10), 7)
  .parse()
  .opts<{ modelDir: string; runs: number }>();

const cohort = path.join(here, '..', '..', 'shared', 'data', 'lf-dlrn-bc');
const imageDir = path.join(cohort, 'images', 't11', 'train');
const ids = readdirSync(imageDir).filter((f) => f.endsWith('.jpg')).slice(0, opts.runs + 1);
const clinicalById = new Map(parseCsv(readFileSync(path.join(cohort, 'clinical', 'train.csv'), 'utf8'))
  .map((row) => [row['id']!, parseClinicalRecord(row).record]));

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

const tLoad = process.hrtime.bigint();
const model = await loadRiskModel(opts.modelDir);
const loadMs = ms(tLoad);

const channelsMs: number[] = [];
const predictMs: number[] = [];
const endToEndMs: number[] = [];
for (const [i, file] of ids.entries()) {
  const id = file.replace('.jpg', '');
  const bytes = new Uint8Array(readFileSync(path.join(imageDir, file)));
  const t0 = process.hrtime.bigint();
  const { grey, satMask } = cohortModelInputs(decodeJpegToGrey(bytes));
  const channels = buildModelChannels(grey, satMask);
  const tc = ms(t0);
  const t1 = process.hrtime.bigint();
  const r = await model.predict({ channels, clinical: clinicalById.get(id) ?? null, bodyComposition: null });
  const tp = ms(t1);
  if (i === 0) {
    console.log(`warm-up case: inputs ${r.inputsUsed}, p=${r.probability.toFixed(3)}, heatmap ${r.heatmap ? 'yes' : 'no'}`);
    continue; // first run pays one-off JIT / allocation costs
  }
  channelsMs.push(tc);
  predictMs.push(tp);
  endToEndMs.push(tc + tp);
}
const rssMb = process.resourceUsage().maxRSS / 1024;
console.log(`model load: ${loadMs.toFixed(0)} ms (once per process)`);
console.log(`baseline, channels only (decode+fat mask+HOG+LBP): median ${median(channelsMs).toFixed(0)} ms over ${channelsMs.length} cases`);
console.log(`predict() (CNN + GBDTs + Grad-CAM + PNG):          median ${median(predictMs).toFixed(0)} ms`);
console.log(`end to end per case:                              median ${median(endToEndMs).toFixed(0)} ms (goal <= 1000 ms)`);
console.log(`peak RSS: ${rssMb.toFixed(0)} MB`);
