/**
 * CLI commands of the risk model (registered by src/cli/main.ts):
 *   bonemet predict <dicom-dir> [--clinical file.json] [--model-dir dir] [--height-cm n]
 *   bonemet cohort-predict --images <dir> [--clinical <csv>] --out <csv> [--model-dir dir]
 * Output is JSON (predict) or CSV (cohort-predict); progress and problems go to stderr and never
 * contain patient names or IDs (DICOM file names are not printed either).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { analyzeSeries } from '../analysis/index.ts';
import { axialSlice } from '../analysis/tissue.ts';
import type { DicomInput } from '../analysis/types.ts';
import { parseClinicalRecord } from '../model/clinical.ts';
import { loadRiskModel, RiskInputError } from '../model/index.ts';
import { dicomT11ModelInput } from '../model/standardise.ts';
import { lazyDicomInputs, listFilesRecursive } from './analyze.ts';
import { runCohortPredict, writeCohortCsv } from './cohort-predict.ts';

const DEFAULT_MODEL_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'models', 'shipped');

/** The files under `dir` as DICOM inputs, read from disk on access (the same reader as `bonemet analyze`). */
function readDicomDir(dir: string): DicomInput[] {
  const files = listFilesRecursive(dir);
  if (files.length === 0) throw new Error(`no files in ${dir}`);
  return lazyDicomInputs(files, dir);
}

async function readClinicalJson(file: string): Promise<{ record: ReturnType<typeof parseClinicalRecord>['record']; warnings: string[] }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`--clinical ${file}: not readable JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return parseClinicalRecord(raw);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Float32Array || value instanceof Uint8Array) return `<${value.length} values omitted>`;
  return value;
}

export function registerPredictCommands(program: Command): void {
  program
    .command('predict')
    .description('T11 body composition + metastasis risk for one CT series (research use only); prints JSON')
    .argument('<dicom-dir>', 'folder with the DICOM files of one CT series')
    .option('--clinical <file>', 'clinical data JSON (fields as in clinical/train.csv, plus heightCm, weightKg)')
    .option('--height-cm <n>', 'patient height in cm (else clinical heightCm, else DICOM PatientSize)', Number)
    .option('--model-dir <dir>', 'risk model directory', DEFAULT_MODEL_DIR)
    .option('--heatmap <png>', 'write the Grad-CAM overlay on the standardised T11 slice to this PNG file')
    .action(async (dicomDir: string, opts: { clinical?: string; heightCm?: number; modelDir: string; heatmap?: string }) => {
      const clinical = opts.clinical ? await readClinicalJson(opts.clinical) : { record: null, warnings: [] };
      const heightCm = opts.heightCm ?? clinical.record?.heightCm;
      if (opts.heightCm !== undefined && !Number.isFinite(opts.heightCm)) throw new Error('--height-cm must be a number');
      const { result, volume } = await analyzeSeries(readDicomDir(dicomDir), {
        height: heightCm !== undefined ? { heightM: heightCm / 100, source: opts.heightCm !== undefined ? 'cli' : 'clinical' } : undefined,
      });
      const model = await loadRiskModel(opts.modelDir);
      const warnings = [...clinical.warnings];
      // CNN input: the measured T11 slice standardised like the training cohort (same call as the service).
      let channels: Float32Array | undefined;
      const slice = result.measuredSlice;
      if (model.manifest.image && slice && result.masks) {
        const built = dicomT11ModelInput(axialSlice(volume, slice.sliceIndex), result.masks);
        channels = built.channels;
        warnings.push(...built.standardised.warnings);
      } else if (!slice) {
        warnings.push('no measured T11 slice: image and combined models not used');
      }
      let risk = null;
      try {
        const { cnn: _cnn, heatmap: _heatmap, heatmapPng, ...r } = await model.predict({
          channels, clinical: clinical.record, bodyComposition: result.bodyComposition,
        });
        risk = r;
        if (opts.heatmap && heatmapPng) await writeFile(opts.heatmap, heatmapPng);
        else if (opts.heatmap) warnings.push('no heatmap: the image model did not run');
      } catch (e) {
        if (!(e instanceof RiskInputError)) throw e;
        warnings.push(`no risk estimate: ${e.message}`);
      }
      const { masks: _masks, ...analysis } = result;
      process.stdout.write(`${JSON.stringify({ analysis, risk, warnings }, jsonReplacer, 2)}\n`);
    });

  program
    .command('cohort-predict')
    .description('run the shipped model on a cohort of T11 JPEGs (+ optional clinical CSV); writes id,p_image,p_clinical,p_combined,warnings')
    .requiredOption('--images <dir>', 'folder with a t11/ subfolder searched recursively for <id>.jpg')
    .option('--clinical <csv>', 'clinical CSV with an id column (same columns as clinical/train.csv; label ignored)')
    .requiredOption('--out <csv>', 'output CSV')
    .option('--model-dir <dir>', 'risk model directory', DEFAULT_MODEL_DIR)
    .action(async (opts: { images: string; clinical?: string; out: string; modelDir: string }) => {
      const model = await loadRiskModel(opts.modelDir);
      const started = Date.now();
      const { rows, problems } = await runCohortPredict(model, opts.images, opts.clinical ?? null, (done, total) => {
        if (done % 20 === 0 || done === total) process.stderr.write(`cohort-predict: ${done}/${total} (${((Date.now() - started) / done).toFixed(0)} ms/image)\n`);
      });
      for (const p of problems) process.stderr.write(`cohort-predict: ${p}\n`);
      await writeCohortCsv(opts.out, rows);
      const withWarnings = rows.filter((r) => r.warnings.length > 0).length;
      process.stderr.write(`cohort-predict: wrote ${rows.length} rows to ${opts.out} (${withWarnings} with warnings)\n`);
    });
}
