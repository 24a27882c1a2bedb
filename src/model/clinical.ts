/**
 * Clinical inputs -> the clinical feature vector of the shipped GBDTs, with a documented rule for
 * every value the training data does not cover. Pure: no I/O.
 *
 * Rule (also in models/MODEL_CARD.md):
 *  - a field that is absent, null or not a finite number is MISSING;
 *  - a categorical/binary field whose code never occurs in the training table -> warning, MISSING;
 *  - a number outside the plausible range (manifest plausibleRange) -> warning, MISSING;
 *  - a plausible number outside the training range -> warning, KEPT (trees treat it exactly like the
 *    nearest training extreme, so this is a clamp, said out loud);
 *  - vfa_t11_cm2 missing -> the VFA this service measured at T11 (bodyComposition), noted in a warning;
 *  - bmi missing -> weightKg / (heightCm/100)^2 when both are plausible;
 *  - PMI/T4 must equal PMA/T4 / height^2 for a height of 1.40..1.90 m; otherwise (and when PMI is
 *    missing but PMA is present) PMI = PMA / height^2 with the record's height, else with the training
 *    median height^2 (2.56 m^2) -- the same repair the training recipe applies (models/common.py);
 *  - up to `maxImputed` MISSING fields are replaced by the training median, each named in a warning;
 *    more than that -> no clinical vector: the prediction uses the imaging-only path (warning says so).
 * Never throws on bad values; never guesses silently.
 */
import type { BodyComposition } from '../analysis/types.ts';
import type { ClinicalRecord } from './types.ts';

export interface ClinicalSpec {
  features: string[];
  medians: Record<string, number>;
  trainRange: Record<string, [number, number]>;
  categoricalCodes: Record<string, number[]>;
  plausibleRange: Record<string, [number, number]>;
  maxImputed: number;
  pmiConsistency: { height2RangeM2: [number, number]; medianHeight2M2: number };
}

export interface ClinicalVector {
  /** Feature values in `spec.features` order; null when the clinical path cannot be used. */
  vector: Float32Array | null;
  imputed: string[];
  warnings: string[];
}

/** Every clinical field a record may carry (keys of ClinicalVariables + height/weight). */
export const CLINICAL_FIELDS: readonly (keyof ClinicalRecord)[] = [
  'age', 'tumor_size_cm', 'bmi', 'cea', 'pma_t4_cm2', 'pmi_t4_cm2_m2', 'menopause', 'n_stage', 'lvi',
  'multifocal', 'er', 'pr', 'her2', 'ki67', 'molecular_subtype', 'endocrine_therapy', 'radiotherapy',
  'chemotherapy', 'histologic_type', 'vfa_t11_cm2', 'heightCm', 'weightKg',
];

const HEIGHT_CM_RANGE: [number, number] = [100, 230];
const WEIGHT_KG_RANGE: [number, number] = [25, 300];

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function inRange(v: number, [lo, hi]: [number, number]): boolean {
  return v >= lo && v <= hi;
}

/**
 * Validate an untrusted JSON object (CLI file, HTTP body, CSV row) into a ClinicalRecord.
 * Unknown keys and non-numeric values are reported, never thrown; numeric strings are accepted.
 */
export function parseClinicalRecord(raw: unknown): { record: ClinicalRecord | null; warnings: string[] } {
  if (raw === null || raw === undefined) return { record: null, warnings: [] };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { record: null, warnings: ['clinical data is not a JSON object: ignored'] };
  }
  const record: ClinicalRecord = {};
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (key === 'id' || key === 'label') continue; // cohort CSV columns that are not inputs
    if (!(CLINICAL_FIELDS as readonly string[]).includes(key)) {
      warnings.push(`clinical field "${key}" is not known to the model: ignored`);
      continue;
    }
    if (value === null || value === undefined || value === '') continue;
    const num = typeof value === 'string' ? Number(value.trim()) : value;
    if (!finite(num)) {
      warnings.push(`clinical field "${key}" is not a number: treated as missing`);
      continue;
    }
    record[key as keyof ClinicalRecord] = num;
  }
  return { record, warnings };
}

/** Build the model's clinical vector (see the rule in the file header). */
export function buildClinicalVector(
  record: ClinicalRecord | null,
  bodyComposition: BodyComposition | null,
  spec: ClinicalSpec,
): ClinicalVector {
  const warnings: string[] = [];
  if (record === null) {
    return { vector: null, imputed: [], warnings: ['no clinical data: clinical and combined models not used'] };
  }
  const values = new Map<string, number>();
  const heightCm = finite(record.heightCm) && inRange(record.heightCm, HEIGHT_CM_RANGE) ? record.heightCm : null;
  if (finite(record.heightCm) && heightCm === null) warnings.push(`heightCm ${record.heightCm} is implausible: ignored`);
  const weightKg = finite(record.weightKg) && inRange(record.weightKg, WEIGHT_KG_RANGE) ? record.weightKg : null;
  if (finite(record.weightKg) && weightKg === null) warnings.push(`weightKg ${record.weightKg} is implausible: ignored`);

  for (const name of spec.features) {
    const raw = (record as Record<string, number | undefined>)[name];
    if (!finite(raw)) continue;
    const codes = spec.categoricalCodes[name];
    if (codes) {
      if (!codes.includes(raw)) {
        warnings.push(`${name} = ${raw} is not a code seen in training (${codes.join('/')}): treated as missing`);
        continue;
      }
      values.set(name, raw);
      continue;
    }
    const plausible = spec.plausibleRange[name];
    if (plausible && !inRange(raw, plausible)) {
      warnings.push(`${name} = ${raw} is outside the plausible range ${plausible[0]}..${plausible[1]}: treated as missing`);
      continue;
    }
    const train = spec.trainRange[name];
    if (train && !inRange(raw, train)) {
      warnings.push(`${name} = ${raw} is outside the training range ${train[0]}..${train[1]}: the model treats it like ${raw < train[0] ? train[0] : train[1]}`);
    }
    values.set(name, raw);
  }

  // Derived values, each said out loud.
  if (spec.features.includes('vfa_t11_cm2') && !values.has('vfa_t11_cm2') && bodyComposition && finite(bodyComposition.vfaCm2)) {
    values.set('vfa_t11_cm2', bodyComposition.vfaCm2);
    warnings.push('vfa_t11_cm2 taken from this service\'s T11 measurement');
  }
  if (spec.features.includes('bmi') && !values.has('bmi') && heightCm !== null && weightKg !== null) {
    values.set('bmi', weightKg / (heightCm / 100) ** 2);
    warnings.push('bmi computed from heightCm and weightKg');
  }
  if (spec.features.includes('pmi_t4_cm2_m2')) repairPmi(values, heightCm, spec, warnings);

  const missing = spec.features.filter((f) => !values.has(f));
  if (missing.length > spec.maxImputed) {
    warnings.push(`clinical model not used: ${missing.length} of ${spec.features.length} inputs missing or invalid (${missing.join(', ')}); more than ${spec.maxImputed} cannot be imputed`);
    return { vector: null, imputed: [], warnings };
  }
  for (const f of missing) {
    const median = spec.medians[f];
    if (median === undefined) throw new Error(`model manifest has no median for clinical feature ${f}`);
    values.set(f, median);
  }
  if (missing.length > 0) warnings.push(`imputed with the training median: ${missing.join(', ')}`);
  return { vector: Float32Array.from(spec.features.map((f) => values.get(f)!)), imputed: missing, warnings };
}

function repairPmi(values: Map<string, number>, heightCm: number | null, spec: ClinicalSpec, warnings: string[]): void {
  const pma = values.get('pma_t4_cm2');
  const pmi = values.get('pmi_t4_cm2_m2');
  if (pma === undefined) return;
  const h2 = heightCm !== null ? (heightCm / 100) ** 2 : spec.pmiConsistency.medianHeight2M2;
  const source = heightCm !== null ? 'the record\'s height' : 'the training median height^2';
  if (pmi === undefined) {
    values.set('pmi_t4_cm2_m2', pma / h2);
    warnings.push(`pmi_t4_cm2_m2 computed as pma_t4_cm2 / height^2 using ${source}`);
    return;
  }
  const ratio = pma / pmi;
  if (!inRange(ratio, spec.pmiConsistency.height2RangeM2)) {
    values.set('pmi_t4_cm2_m2', pma / h2);
    warnings.push(`pmi_t4_cm2_m2 is inconsistent with pma_t4_cm2 (implied height^2 ${ratio.toFixed(2)} m^2): recomputed using ${source}`);
  }
}

