/**
 * Writes the 4-channel image-model tensors for every cohort T11 image (train + val) for the Python
 * trainer, using the SAME TypeScript channel code the service uses at serving time.
 *
 *   npx tsx models/make-tensors.ts [--out models/work/tensors] [--cohort ../shared/data/lf-dlrn-bc]
 *
 * Output (in --out):
 *   train.f16, val.f16   float16 little-endian, shape [N][4][400][500] (C,H,W per image), rows in index order
 *   index.json           format, channel spec, and per image {id, split, label, row}
 * float16 halves the size (245 images: 392 MB instead of 784 MB); the rounding (<= 2^-11 relative)
 * is far below anything the network resolves. CT (k/255) and the mask (+-0.5) lose nothing meaningful.
 * Read in Python: np.fromfile('train.f16', dtype='<f2').reshape(-1, 4, 400, 500).astype(np.float32)
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { CHANNEL_SPEC, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH, buildModelChannels } from '../src/model/channels.ts';
import { cohortFatMaskSource, cohortModelInputs, decodeJpegToGrey } from '../src/model/cohort-image.ts';

const here = new URL('.', import.meta.url).pathname;

/** float32 -> IEEE half (round to nearest even); Node 20 has no Float16Array. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> 0
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent: still correct
  return sign | half;
}

function readCsv(path: string): Record<string, string>[] {
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const header = (lines[0] ?? '').split(',');
  return lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i] ?? `col${i}`, v])));
}

interface IndexEntry {
  id: string;
  split: 'train' | 'val';
  label: 0 | 1;
  row: number;
  satPixels: number;
}

async function main(): Promise<void> {
  const opts = new Command()
    .option('--out <dir>', 'output directory', join(here, 'work', 'tensors'))
    .option('--cohort <dir>', 'cohort data directory', join(here, '..', '..', 'shared', 'data', 'lf-dlrn-bc'))
    .option('--limit <n>', 'only the first n images per split (smoke runs)', (v) => parseInt(v, 10))
    .parse()
    .opts<{ out: string; cohort: string; limit?: number }>();
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const splits: { split: 'train' | 'val'; rows: Record<string, string>[] }[] = [
    { split: 'train', rows: readCsv(join(opts.cohort, 'clinical', 'train.csv')) },
    { split: 'val', rows: readCsv(join(opts.cohort, 'clinical', 'val_labels.csv')) },
  ];
  const entries: IndexEntry[] = [];
  const n = MODEL_INPUT_WIDTH * MODEL_INPUT_HEIGHT;
  for (const { split, rows } of splits) {
    const fd = openSync(join(out, `${split}.f16`), 'w');
    const half = new Uint16Array(4 * n);
    const chosen = opts.limit ? rows.slice(0, opts.limit) : rows;
    let row = 0;
    const started = Date.now();
    for (const r of chosen) {
      const id = r.id;
      const label = Number(r.label);
      if (!id || !/^\d+$/.test(id) || (label !== 0 && label !== 1)) throw new Error(`${split} CSV row ${row + 1}: bad id or label`);
      const img = decodeJpegToGrey(readFileSync(join(opts.cohort, 'images', 't11', split, `${id}.jpg`)));
      if (img.width !== MODEL_INPUT_WIDTH || img.height !== MODEL_INPUT_HEIGHT) {
        throw new Error(`${split}/${id}.jpg is ${img.width}x${img.height}; expected ${MODEL_INPUT_WIDTH}x${MODEL_INPUT_HEIGHT}`);
      }
      const { grey, satMask } = cohortModelInputs(img);
      const channels = buildModelChannels(grey, satMask);
      for (let i = 0; i < channels.length; i++) half[i] = toHalf(channels[i] as number);
      writeSync(fd, half);
      entries.push({ id, split, label: label as 0 | 1, row, satPixels: satMask.reduce((a, b) => a + b, 0) });
      row++;
      if (row % 25 === 0) console.log(`${split}: ${row}/${chosen.length} (${((Date.now() - started) / row).toFixed(0)} ms/image)`);
    }
    closeSync(fd);
  }
  const index = {
    format: 'float16 little-endian, per split file <split>.f16 of shape [N][4][400][500]; image i of a split is row i',
    dtype: '<f2',
    shape: [4, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH],
    channelSpec: CHANNEL_SPEC,
    fatMaskSource: cohortFatMaskSource(),
    greyConversion: 'jpeg-js 0.4.4 decode, then Pillow convert("L") luma (19595 R + 38470 G + 7471 B + 32768) >> 16',
    labels: { train: 'clinical/train.csv label', val: 'clinical/val_labels.csv label' },
    createdBy: 'models/make-tensors.ts',
    items: entries,
  };
  writeFileSync(join(out, 'index.json'), JSON.stringify(index, null, 1));
  console.log(`wrote ${entries.length} images to ${out}`);
}

await main();
