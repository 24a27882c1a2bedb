/**
 * Speed of the model-input channels on a real 500 x 400 cohort T11 image (goal: HOG + LBP well under 200 ms).
 * Medians over repeated runs, with a same-run baseline (a 3x3 box filter over the same image, a fixed
 * amount of simple work) so numbers from a busy machine can be compared: look at the ratio column.
 *   npx tsx bench/channels.bench.ts [runs=15]
 */
import { readFileSync } from 'node:fs';
import { buildModelChannels } from '../src/model/channels.ts';
import { cohortModelInputs, decodeJpegToGrey } from '../src/model/cohort-image.ts';
import { hogVisualisation } from '../src/model/hog.ts';
import { localBinaryPattern } from '../src/model/lbp.ts';
import { median } from './lib.ts';

const runs = Number(process.argv[2] ?? 15);
const bytes = readFileSync(new URL('../../shared/data/lf-dlrn-bc/images/t11/train/215.jpg', import.meta.url));
const img = decodeJpegToGrey(bytes);
const { grey, satMask } = cohortModelInputs(img);
const W = img.width;
const H = img.height;

function boxFilter(src: Float32Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 1; r < H - 1; r++) {
    for (let c = 1; c < W - 1; c++) {
      let s = 0;
      for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) s += src[(r + dr) * W + c + dc] as number;
      out[r * W + c] = s / 9;
    }
  }
  return out;
}

const cases: [string, () => unknown][] = [
  ['baseline 3x3 box filter', () => boxFilter(grey)],
  ['jpeg decode + luma', () => decodeJpegToGrey(bytes)],
  ['HOG visualisation', () => hogVisualisation(grey, W, H)],
  ['LBP P=24 R=3', () => localBinaryPattern(grey, W, H)],
  ['buildModelChannels (all 4)', () => buildModelChannels(grey, satMask)],
];
for (const [, fn] of cases) fn(); // warm-up (JIT)
const results = new Map<string, number[]>(cases.map(([n]) => [n, []]));
for (let i = 0; i < runs; i++) {
  for (const [name, fn] of cases) {
    const t = performance.now();
    fn();
    results.get(name)!.push(performance.now() - t);
  }
}
const base = median(results.get('baseline 3x3 box filter')!);
console.log(`runs ${runs}, ${W}x${H}`);
for (const [name, times] of results) {
  const m = median(times);
  console.log(`${name.padEnd(30)} median ${m.toFixed(1).padStart(7)} ms   ${(m / base).toFixed(1).padStart(6)} x baseline`);
}
