/**
 * Test helpers for the analysis tests: real CT series from ../shared/data read in place, DICOM
 * edits in memory (dcmjs), and reference masks / independent decodes through Debian's python.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import dcmjs from 'dcmjs';
import type { DicomInput } from '../../src/analysis/types.ts';
import { exactArrayBuffer } from '../../src/analysis/decode.ts';
import { lazyDicomInputs } from '../../src/cli/analyze.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CT_DATA = path.resolve(ROOT, '..', 'shared', 'data', 'ct');
export const PYTHON = '/usr/bin/python3';

export function seriesFiles(name: string, sub = 'dicom'): string[] {
  const dir = path.join(CT_DATA, name, sub);
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => path.join(dir, f));
}

export function readArrayBuffer(file: string): ArrayBuffer {
  return exactArrayBuffer(fs.readFileSync(file));
}

/** Inputs that read from disk on access, labelled by file name: the CLI's own lazy inputs. */
export function lazyInputs(files: string[]): DicomInput[] {
  return files.map((f) => lazyDicomInputs([f], path.dirname(f))[0]!);
}

/** Rewrites one instance in memory: `edit` gets the naturalized dataset (and may change PixelData). */
export function editDicom(bytes: ArrayBuffer, edit: (ds: any) => void): ArrayBuffer {
  const { DicomMessage, DicomMetaDictionary, DicomDict } = dcmjs.data;
  const dict = DicomMessage.readFile(bytes);
  const ds = DicomMetaDictionary.naturalizeDataset(dict.dict);
  edit(ds);
  const meta = DicomMetaDictionary.naturalizeDataset(dict.meta);
  const out = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  out.dict = DicomMetaDictionary.denaturalizeDataset(ds);
  return out.write();
}

/** Every file of a series, each rewritten in memory by `edit` (see editDicom). */
export function editedInputs(files: string[], edit: (ds: any) => void): DicomInput[] {
  return files.map((f) => ({ label: path.basename(f), bytes: editDicom(readArrayBuffer(f), edit) }));
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bonemet-${prefix}-`));
}

/** Reference label mask sampled onto each DICOM file's grid (test/helpers/reference_masks.py). */
export function referenceMasks(nifti: string, labels: string, dicomFiles: string[]): { rows: number; columns: number; masks: Uint8Array[] } {
  const dir = tempDir('ref');
  try {
    const out = path.join(dir, 'mask.raw');
    const info = JSON.parse(
      execFileSync(PYTHON, [path.join(ROOT, 'test', 'helpers', 'reference_masks.py'), nifti, labels, out, ...dicomFiles], { encoding: 'utf8' }),
    ) as { rows: number; columns: number; slices: number };
    const raw = new Uint8Array(fs.readFileSync(out));
    const n = info.rows * info.columns;
    const masks = Array.from({ length: info.slices }, (_, k) => raw.slice(k * n, (k + 1) * n));
    return { rows: info.rows, columns: info.columns, masks };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** HU of each file decoded by pydicom (Pillow/OpenJPEG or GDCM), int16, file order: an independent decoder. */
export function pydicomHu(files: string[]): Int16Array[] {
  const dir = tempDir('pyhu');
  try {
    const out = path.join(dir, 'hu.raw');
    const script = [
      'import sys, numpy as np, pydicom',
      'out = open(sys.argv[1], "wb")',
      'for f in sys.argv[2:]:',
      '    ds = pydicom.dcmread(f)',
      '    a = ds.pixel_array.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))',
      '    out.write(np.rint(a).astype("<i2").tobytes())',
      'out.close()',
    ].join('\n');
    execFileSync(PYTHON, ['-c', script, out, ...files]);
    const raw = fs.readFileSync(out);
    const all = new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const n = all.length / files.length;
    return files.map((_, k) => all.slice(k * n, (k + 1) * n));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i]! & b[i]!;
    sa += a[i]!;
    sb += b[i]!;
  }
  return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
}
