/**
 * `bonemet analyze <dicom-dir> [--height-cm N] [--at-slice SOPInstanceUID] [--json] [--out dir]`
 *
 * I/O edge of the analysis stage: reads every file under the directory (recursively, any name),
 * skips non-DICOM files with a warning, runs analyzeSeries, prints a table (or, with --json, one JSON
 * document on stdout and nothing else), and writes the QA picture and masks to --out.
 * Exit codes: 0 = analysis ran (assessable or not, see the output), 2 = bad arguments/input directory,
 * 1 = unexpected failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import type { Command } from 'commander';
import type { AnalysisResult, CtVolume, DicomInput, LevelName } from '../analysis/types.ts';
import { analyzeSeries, NotAssessableInputError } from '../analysis/index.ts';
import { renderQaPng } from '../analysis/qa-image.ts';
import { PLAUSIBLE_HEIGHT_RANGE_M } from '../analysis/measures.ts';

export interface AnalyzeCliOptions {
  heightCm?: string;
  atSlice?: string;
  json?: boolean;
  out?: string;
}

class UsageError extends Error {}

/** Files under `dir`, recursively, sorted for a stable order (the volume builder does not depend on it). */
export function listFilesRecursive(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
      // Symlinked files are followed; symlinked directories are not (no cycles).
      else if (e.isSymbolicLink() && fs.statSync(p, { throwIfNoEntry: false })?.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Part 10 files carry "DICM" at byte 128; reading 132 bytes is enough to decide. */
export function looksLikeDicomPart10(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(132);
    const n = fs.readSync(fd, b, 0, 132, 0);
    return n === 132 && b.toString('latin1', 128, 132) === 'DICM';
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * DICOM inputs that read their bytes from disk on access, so the volume builder never holds all
 * files in memory at once (it reads each file twice: header pass, pixel pass).
 */
export function lazyDicomInputs(files: string[], root: string): DicomInput[] {
  return files.map((file) => ({
    label: path.relative(root, file) || path.basename(file),
    get bytes(): ArrayBuffer {
      const b = fs.readFileSync(file);
      // Large reads get their own exactly-sized ArrayBuffer: use it as is; small pooled ones are copied out.
      if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b.buffer as ArrayBuffer;
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
  }));
}

function parseHeightCm(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const cm = Number(value);
  const [lo, hi] = PLAUSIBLE_HEIGHT_RANGE_M.map((m) => Math.round(m * 100));
  if (!Number.isFinite(cm) || cm < lo! || cm > hi!) {
    throw new UsageError(`--height-cm must be a number between ${lo} and ${hi} (got "${value}")`);
  }
  return cm / 100;
}

/** The JSON document printed by --json (and written to --out/result.json). No patient identity in it. */
export function resultToJson(result: AnalysisResult, volume: CtVolume | null) {
  const levels: Record<string, unknown> = {};
  for (const [name, lv] of Object.entries(result.levelFinding.levels)) {
    if (!lv) continue;
    levels[name] = {
      sliceIndex: lv.midSliceIndex,
      sliceRange: lv.sliceRange,
      zMm: lv.zMm,
      sopInstanceUID: lv.sopInstanceUID,
      confidence: lv.confidence,
      partial: lv.partial,
    };
  }
  return {
    assessable: result.assessable,
    reason: result.reason,
    levels,
    measuredSlice: result.measuredSlice,
    bodyComposition: result.bodyComposition,
    warnings: result.warnings,
    levelEvidence: result.levelFinding.evidence,
    algorithm: result.algorithm,
    series: volume
      ? {
          seriesInstanceUID: volume.seriesInstanceUID,
          slices: volume.slices,
          rows: volume.rows,
          columns: volume.columns,
          pixelSpacingMm: volume.pixelSpacingMm,
          sliceSpacingMm: volume.sliceSpacingMm,
          zRangeMm: [volume.sliceZMm[0], volume.sliceZMm[volume.slices - 1]],
        }
      : null,
    excluded: volume?.excluded ?? [],
  };
}

function notAssessableJson(reason: string, warnings: string[]) {
  return {
    assessable: false,
    reason,
    levels: {},
    measuredSlice: null,
    bodyComposition: null,
    warnings,
    levelEvidence: [],
    algorithm: null,
    series: null,
    excluded: [],
  };
}

function table(result: AnalysisResult, volume: CtVolume): string {
  const lines: string[] = [];
  lines.push(`series: ${volume.slices} slices, ${volume.rows}x${volume.columns}, pixel ${volume.pixelSpacingMm.map((v) => v.toFixed(3)).join('x')} mm, slice spacing ${volume.sliceSpacingMm.toFixed(2)} mm`);
  if (volume.excluded.length) lines.push(`excluded: ${volume.excluded.length} instance(s)`);
  const order: LevelName[] = ['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'T8', 'T9', 'T10', 'T11', 'T12', 'L1', 'L2', 'L3', 'L4', 'L5'];
  const found = order.filter((n) => result.levelFinding.levels[n]);
  if (found.length) {
    lines.push('level  slice  z (mm)    confidence  partial');
    for (const n of found) {
      const lv = result.levelFinding.levels[n]!;
      lines.push(`${n.padEnd(6)} ${String(lv.midSliceIndex).padStart(5)}  ${lv.zMm.toFixed(1).padStart(8)}  ${lv.confidence.toFixed(2).padStart(10)}  ${lv.partial ? 'yes' : 'no'}`);
    }
  }
  if (!result.assessable || !result.bodyComposition || !result.measuredSlice) {
    lines.push(`NOT ASSESSABLE: ${result.reason ?? 'unknown reason'}`);
  } else {
    const bc = result.bodyComposition;
    const ms = result.measuredSlice;
    const idx = (v: number | null) => (v === null ? '   n/a' : v.toFixed(1).padStart(6));
    lines.push(`measured at slice ${ms.sliceIndex} (z ${ms.zMm.toFixed(1)} mm, ${ms.source === 'override' ? 'override' : `T11, confidence ${ms.confidence?.toFixed(2)}`})`);
    lines.push('measure  area cm2  index cm2/m2');
    lines.push(`SFA     ${bc.sfaCm2.toFixed(1).padStart(9)}  ${idx(bc.sfiCm2M2)}`);
    lines.push(`VFA     ${bc.vfaCm2.toFixed(1).padStart(9)}  ${idx(bc.vfiCm2M2)}`);
    lines.push(`ESMA    ${bc.esmaCm2.toFixed(1).padStart(9)}  ${idx(bc.esmiCm2M2)}`);
    lines.push(bc.heightM ? `height ${bc.heightM.toFixed(2)} m (${bc.heightSource})` : 'height unknown: indices not computed');
  }
  for (const w of result.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

function writeMaskPng(file: string, mask: Uint8Array, rows: number, columns: number): void {
  const png = new PNG({ width: columns, height: rows, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  const grey = Buffer.alloc(rows * columns);
  for (let i = 0; i < grey.length; i++) grey[i] = mask[i] ? 255 : 0;
  png.data = grey;
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
}

function writeOutputs(outDir: string, result: AnalysisResult, volume: CtVolume): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, write: (file: string) => void) => {
    const file = path.join(outDir, name);
    write(file);
    written.push(file);
  };
  put('result.json', (f) => fs.writeFileSync(f, JSON.stringify(resultToJson(result, volume), null, 2) + '\n'));
  put('qa.png', (f) => fs.writeFileSync(f, renderQaPng(volume, result)));
  const m = result.masks;
  if (m) {
    put('mask-subcutaneous-fat.png', (f) => writeMaskPng(f, m.subcutaneousFat, m.rows, m.columns));
    put('mask-visceral-fat.png', (f) => writeMaskPng(f, m.visceralFat, m.rows, m.columns));
    put('mask-erector-spinae.png', (f) => writeMaskPng(f, m.erectorSpinae, m.rows, m.columns));
    put('mask-inside-wall.png', (f) => writeMaskPng(f, m.insideWall, m.rows, m.columns));
    put('mask-body.png', (f) => writeMaskPng(f, m.body, m.rows, m.columns));
  }
  return written;
}

/** Runs the command; returns the exit code. Kept separate from commander so tests can call it. */
export async function runAnalyze(dicomDir: string, opts: AnalyzeCliOptions, io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const say = (s: string) => (opts.json ? io.stderr : io.stdout).write(s + '\n');
  const warnings: string[] = [];
  let files: string[];
  let heightM: number | undefined;
  try {
    heightM = parseHeightCm(opts.heightCm);
    if (opts.atSlice !== undefined && !/^[0-9.]{1,64}$/.test(opts.atSlice)) {
      throw new UsageError('--at-slice must be a SOPInstanceUID (digits and dots, at most 64 characters)');
    }
    if (!fs.existsSync(dicomDir) || !fs.statSync(dicomDir).isDirectory()) throw new UsageError(`not a directory: ${dicomDir}`);
    files = listFilesRecursive(dicomDir).filter((f) => {
      if (looksLikeDicomPart10(f)) return true;
      warnings.push(`skipped non-DICOM file ${path.relative(dicomDir, f)}`);
      return false;
    });
    if (files.length === 0) throw new UsageError(`no DICOM Part 10 files under ${dicomDir}`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`bonemet analyze: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);

  // With --json, stdout carries exactly one JSON document: anything a library prints meanwhile goes to stderr.
  const realStdoutWrite = process.stdout.write;
  if (opts.json) process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const restoreStdout = () => {
    process.stdout.write = realStdoutWrite;
  };
  try {
    let analysed;
    try {
      analysed = await analyzeSeries(lazyDicomInputs(files, dicomDir), {
        ...(heightM !== undefined ? { height: { heightM, source: 'cli' as const } } : {}),
        ...(opts.atSlice !== undefined ? { atSliceSopInstanceUID: opts.atSlice } : {}),
      });
    } finally {
      restoreStdout();
    }
    const { result, volume } = analysed;
    result.warnings.push(...warnings);
    if (opts.json) io.stdout.write(JSON.stringify(resultToJson(result, volume), null, 2) + '\n');
    else say(table(result, volume));
    if (opts.out) {
      const written = writeOutputs(opts.out, result, volume);
      io.stderr.write(`wrote ${written.length} file(s) to ${opts.out}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof NotAssessableInputError) {
      if (opts.json) io.stdout.write(JSON.stringify(notAssessableJson(e.message, warnings), null, 2) + '\n');
      else say(`NOT ASSESSABLE: ${e.message}`);
      return 0;
    }
    io.stderr.write(`bonemet analyze: unexpected failure: ${(e as Error).message}\n`);
    return 1;
  }
}

export function registerAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .description('find T11 in a CT series and measure SFA/VFA/ESMA (and indices when height is known)')
    .argument('<dicom-dir>', 'directory with the DICOM files of one CT series (searched recursively)')
    .option('--height-cm <n>', 'patient height in cm (else DICOM PatientSize if plausible, else no indices)')
    .option('--at-slice <sopInstanceUID>', 'measure at this slice instead of the automatically found T11')
    .option('--json', 'print one JSON document on stdout and nothing else')
    .option('--out <dir>', 'write result.json, qa.png and mask PNGs to this directory')
    .action(async (dicomDir: string, opts: AnalyzeCliOptions) => {
      process.exitCode = await runAnalyze(dicomDir, opts);
    });
}
