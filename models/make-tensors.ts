/**
 * Writes the 4-channel image-model tensors for every cohort T11 image (train + val) for the Python
 * trainer, using the SAME TypeScript channel code the service uses at serving time.
 *
 *   npx tsx models/make-tensors.ts [--out models/artifacts/tensors] [--cohort ../shared/data/lf-dlrn-bc]
 *
 * Output (in --out):
 *   <split>/<id>.f32     float32 little-endian, shape [4][400][500] (C,H,W), one file per image
 *   index.json           format, channel spec, fat-mask source, and items [{id, split, label, file}]
 * Float32 (784 MB for 245 images, in the git-ignored models/artifacts/) because the trainer's loader
 * (models/train.py load_tensors) reads per-image float32 files and holds them as float16 in RAM itself.
 * Read in Python: np.fromfile(file, dtype='<f4').reshape(4, 400, 500)
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { parseCsv } from '../src/cli/cohort-predict.ts';
import { CHANNEL_SPEC, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH, buildModelChannels } from '../src/model/channels.ts';
import { cohortFatMaskSource, cohortModelInputs, decodeJpegToGrey } from '../src/model/cohort-image.ts';

const here = new URL('.', import.meta.url).pathname;

const readCsv = (path: string): Record<string, string>[] => parseCsv(readFileSync(path, 'utf8'));

interface IndexEntry {
  id: string;
  split: 'train' | 'val';
  label: 0 | 1;
  file: string;
  satPixels: number;
}

async function main(): Promise<void> {
  const opts = new Command()
    .option('--out <dir>', 'output directory', join(here, 'artifacts', 'tensors'))
    .option('--cohort <dir>', 'cohort data directory', join(here, '..', '..', 'shared', 'data', 'lf-dlrn-bc'))
    .option('--limit <n>', 'only the first n images per split (smoke runs)', (v) => parseInt(v, 10))
    .parse()
    .opts<{ out: string; cohort: string; limit?: number }>();
  // Build into <out>.partial and swap it in at the end, so a trainer never reads a half-written set.
  const finalOut = resolve(opts.out);
  const out = `${finalOut}.partial`;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const splits: { split: 'train' | 'val'; rows: Record<string, string>[] }[] = [
    { split: 'train', rows: readCsv(join(opts.cohort, 'clinical', 'train.csv')) },
    { split: 'val', rows: readCsv(join(opts.cohort, 'clinical', 'val_labels.csv')) },
  ];
  const entries: IndexEntry[] = [];
  for (const { split, rows } of splits) {
    mkdirSync(join(out, split), { recursive: true });
    const chosen = opts.limit ? rows.slice(0, opts.limit) : rows;
    let done = 0;
    const started = Date.now();
    for (const r of chosen) {
      const id = r.id;
      const label = Number(r.label);
      if (!id || !/^\d+$/.test(id) || (label !== 0 && label !== 1)) throw new Error(`${split} CSV row ${done + 1}: bad id or label`);
      const img = decodeJpegToGrey(readFileSync(join(opts.cohort, 'images', 't11', split, `${id}.jpg`)));
      if (img.width !== MODEL_INPUT_WIDTH || img.height !== MODEL_INPUT_HEIGHT) {
        throw new Error(`${split}/${id}.jpg is ${img.width}x${img.height}; expected ${MODEL_INPUT_WIDTH}x${MODEL_INPUT_HEIGHT}`);
      }
      const { grey, satMask } = cohortModelInputs(img);
      const channels = buildModelChannels(grey, satMask);
      const file = `${split}/${id}.f32`;
      writeFileSync(join(out, file), new Uint8Array(channels.buffer, channels.byteOffset, channels.byteLength));
      entries.push({ id, split, label: label as 0 | 1, file, satPixels: satMask.reduce((a, b) => a + b, 0) });
      done++;
      if (done % 25 === 0) console.log(`${split}: ${done}/${chosen.length} (${((Date.now() - started) / done).toFixed(0)} ms/image)`);
    }
  }
  const index = {
    format: 'one float32 little-endian file per image (items[].file, relative to this index), shape [4][400][500] C,H,W',
    dtype: '<f4',
    shape: [4, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH],
    channelSpec: CHANNEL_SPEC,
    fatMaskSource: cohortFatMaskSource(),
    greyConversion: 'jpeg-js 0.4.4 decode, then Pillow convert("L") luma (19595 R + 38470 G + 7471 B + 32768) >> 16',
    labels: { train: 'clinical/train.csv label', val: 'clinical/val_labels.csv label' },
    createdBy: 'models/make-tensors.ts',
    items: entries,
  };
  writeFileSync(join(out, 'index.json'), JSON.stringify(index, null, 1));
  const old = `${finalOut}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(finalOut)) renameSync(finalOut, old);
  renameSync(out, finalOut);
  rmSync(old, { recursive: true, force: true });
  console.log(`wrote ${entries.length} images to ${finalOut}`);
}

await main();
