/**
 * `bonemet cohort-predict`: the shipped model on a cohort laid out like ../shared/data/lf-dlrn-bc
 * (a `t11/` folder searched recursively for `<id>.jpg`, clinical rows by `id`). One output row per
 * T11 image: id,p_image,p_clinical,p_combined,warnings. A probability is empty only where its input
 * is missing or unusable; every problem becomes a warning on its row, never a crash.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildModelChannels, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH } from '../model/channels.ts';
import { parseClinicalRecord } from '../model/clinical.ts';
import { cohortModelInputs, decodeJpegToGrey } from '../model/cohort-image.ts';
import type { RiskModel } from '../model/index.ts';
import type { ClinicalRecord } from '../model/types.ts';
import { listFilesRecursive } from './analyze.ts';

export interface CohortRow {
  id: string;
  pImage: number | null;
  pClinical: number | null;
  pCombined: number | null;
  warnings: string[];
}

/** Minimal RFC-4180 CSV reader (quoted fields, doubled quotes); header row gives the keys. */
export function parseCsv(text: string): Record<string, string>[] {
  const records: string[][] = [];
  let field = '';
  let row: string[] = [];
  let quoted = false;
  const src = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && src[i + 1] === '\n') i++;
      row.push(field);
      records.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    records.push(row);
  }
  const nonEmpty = records.filter((r) => r.some((v) => v.trim() !== ''));
  const header = (nonEmpty.shift() ?? []).map((h) => h.trim());
  return nonEmpty.map((r) => Object.fromEntries(header.map((h, i) => [h, (r[i] ?? '').trim()])));
}

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function formatCohortCsv(rows: CohortRow[]): string {
  const p = (v: number | null): string => (v === null ? '' : v.toFixed(6));
  const lines = ['id,p_image,p_clinical,p_combined,warnings'];
  for (const r of rows) lines.push([csvCell(r.id), p(r.pImage), p(r.pClinical), p(r.pCombined), csvCell(r.warnings.join('; '))].join(','));
  return `${lines.join('\n')}\n`;
}

/** All `<id>.jpg` under `<imagesDir>/t11` (or under imagesDir itself if it has no t11 folder). */
async function findT11Images(imagesDir: string): Promise<{ id: string; file: string }[]> {
  let root = path.join(imagesDir, 't11');
  try {
    await readdir(root);
  } catch {
    root = imagesDir;
  }
  const found = listFilesRecursive(root)
    .filter((file) => /\.jpe?g$/i.test(file))
    .map((file) => ({ id: path.basename(file).replace(/\.jpe?g$/i, ''), file }));
  return found.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

/** Clinical rows keyed by id; duplicated or id-less rows are reported, not used. */
export function indexClinicalRows(rows: Record<string, string>[]): { byId: Map<string, Record<string, string>>; problems: string[] } {
  const byId = new Map<string, Record<string, string>>();
  const duplicated = new Set<string>();
  const problems: string[] = [];
  rows.forEach((r, i) => {
    const id = r['id'];
    if (!id) {
      problems.push(`clinical CSV row ${i + 2} has no id: ignored`);
      return;
    }
    if (byId.has(id)) duplicated.add(id);
    byId.set(id, r);
  });
  for (const id of duplicated) byId.delete(id);
  return { byId, problems: [...problems, ...[...duplicated].map((id) => `clinical CSV has more than one row for id ${id}: none used`)] };
}

/** Predict every T11 image of a cohort. `onProgress` gets (done, total). */
export async function runCohortPredict(
  model: RiskModel,
  imagesDir: string,
  clinicalCsv: string | null,
  onProgress?: (done: number, total: number) => void,
): Promise<{ rows: CohortRow[]; problems: string[] }> {
  const problems: string[] = [];
  let clinicalById = new Map<string, Record<string, string>>();
  if (clinicalCsv) {
    const indexed = indexClinicalRows(parseCsv(await readFile(clinicalCsv, 'utf8')));
    clinicalById = indexed.byId;
    problems.push(...indexed.problems);
  }
  const images = await findT11Images(imagesDir);
  if (images.length === 0) throw new Error(`no .jpg images found under ${imagesDir}`);
  const seen = new Set<string>();
  const rows: CohortRow[] = [];
  for (const { id, file } of images) {
    const warnings: string[] = [];
    if (seen.has(id)) warnings.push(`another image with id ${id} was already predicted`);
    seen.add(id);
    let channels: Float32Array | undefined;
    try {
      const img = decodeJpegToGrey(new Uint8Array(await readFile(file)));
      if (img.width !== MODEL_INPUT_WIDTH || img.height !== MODEL_INPUT_HEIGHT) {
        throw new Error(`image is ${img.width}x${img.height}, the model needs ${MODEL_INPUT_WIDTH}x${MODEL_INPUT_HEIGHT}`);
      }
      const { grey, satMask } = cohortModelInputs(img);
      channels = buildModelChannels(grey, satMask);
    } catch (e) {
      warnings.push(`image not usable: ${e instanceof Error ? e.message : String(e)}`);
    }
    let clinical: ClinicalRecord | null = null;
    if (clinicalCsv) {
      const raw = clinicalById.get(id);
      if (raw === undefined) warnings.push('no clinical row for this id');
      else {
        const parsed = parseClinicalRecord(raw);
        clinical = parsed.record;
        warnings.push(...parsed.warnings);
      }
    }
    const row: CohortRow = { id, pImage: null, pClinical: null, pCombined: null, warnings };
    try {
      const r = await model.predict({ channels, clinical, bodyComposition: null });
      row.pImage = r.pImage;
      row.pClinical = r.pClinical;
      row.pCombined = r.pCombined;
      // "no clinical data" is expected when no CSV was given; keep the row's warnings about real problems.
      warnings.push(...r.warnings.filter((w) => clinicalCsv !== null || !w.startsWith('no clinical data')));
    } catch (e) {
      warnings.push(`no prediction: ${e instanceof Error ? e.message : String(e)}`);
    }
    rows.push(row);
    onProgress?.(rows.length, images.length);
  }
  return { rows, problems };
}

export async function writeCohortCsv(file: string, rows: CohortRow[]): Promise<void> {
  await writeFile(file, formatCohortCsv(rows));
}
