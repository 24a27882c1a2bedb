/**
 * `npm run eval:cohort`: evaluates the SHIPPED model through the TypeScript serving path.
 *  1. cohort-predict on the val split's T11 JPEGs (../shared/data/lf-dlrn-bc/images/t11/val; val has
 *     no clinical data, so image-only) -> models/artifacts/val-predictions.csv
 *  2. models/eval_report.py: AUC (DeLong 95 % CI), sensitivity/specificity at the shipped thresholds for
 *     val (image-only) and CV (image-only, clinical-only, combined; out-of-fold on train), ROC and
 *     calibration PNGs into models/shipped/.
 * Options: --model-dir <dir> (default models/shipped), --cohort <dir> (default ../shared/data/lf-dlrn-bc).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { runCohortPredict, writeCohortCsv } from '../src/cli/cohort-predict.ts';
import { loadRiskModel } from '../src/model/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = new Command()
  .option('--model-dir <dir>', 'model directory', path.join(here, 'shipped'))
  .option('--cohort <dir>', 'cohort directory', path.join(here, '..', '..', 'shared', 'data', 'lf-dlrn-bc'))
  .parse()
  .opts<{ modelDir: string; cohort: string }>();

const work = path.join(here, 'artifacts');
mkdirSync(work, { recursive: true });
const model = await loadRiskModel(opts.modelDir);
const started = Date.now();
const { rows, problems } = await runCohortPredict(model, path.join(opts.cohort, 'images', 't11', 'val'), null, (done, total) => {
  if (done % 20 === 0 || done === total) process.stderr.write(`val: ${done}/${total} (${((Date.now() - started) / done).toFixed(0)} ms/image)\n`);
});
for (const p of problems) process.stderr.write(`${p}\n`);
const valCsv = path.join(work, 'val-predictions.csv');
await writeCohortCsv(valCsv, rows);
execFileSync('/usr/bin/python3', [path.join(here, 'eval_report.py'), '--model-dir', opts.modelDir, '--val-csv', valCsv], {
  stdio: 'inherit',
  env: { ...process.env, BONEMET_COHORT_DIR: opts.cohort },
});
