/**
 * Published evidence from the source paper (Miao et al., Cancer Biomarkers 2023), shown NEXT TO our
 * model and always labelled as published: the SFI cut-off category and a relative hazard from the
 * paper's multivariate Cox hazard ratios. Pure: no I/O.
 *
 * Relative hazard = product over factors of HR^(x - x_ref) (binary factors: HR^(x - ref), i.e. HR
 * when present). The paper's "coefficient" column is a Lasso coefficient, not log(HR), so only the
 * HRs are used. Reference profile (documented in models/MODEL_CARD.md):
 *   LVI no, Ki-67 < 20 %, histologic type "other" (not ductal), CEA 1.81 ng/ml and BMI 23.46 kg/m^2
 *   (medians of the LF-DLRN train table), SFI 27.7 cm^2/m^2 (the published cut-off) and
 *   SFA 70.9 cm^2 (= 27.7 x 2.56 m^2, the cut-off at the cohort's median height^2).
 * So 1.0 means "same published hazard as a patient at the SFI cut-off with that reference profile".
 */
import type { BodyComposition } from '../analysis/types.ts';
import type { ClinicalRecord, PublishedEvidence } from './types.ts';

export const SFI_CUTOFF_CM2_M2 = 27.7;
export const PUBLISHED_LABEL =
  'Published evidence (Miao et al., Cancer Biomarkers 2023; bone metastasis, multivariate Cox): not produced by this model';

/** Multivariate Cox HRs (method-facts.md, Table 2) and the reference value of each factor. */
export const PUBLISHED_HAZARD_RATIOS = {
  lvi: { hr: 2.544, reference: 0, unit: 'yes vs no' },
  ki67_ge_20: { hr: 2.045, reference: 0, unit: 'Ki-67 >= 20 % vs < 20 %' },
  ductal: { hr: 0.216, reference: 0, unit: 'ductal vs other histology' },
  cea: { hr: 1.088, reference: 1.81, unit: 'per ng/ml' },
  bmi: { hr: 0.949, reference: 23.46, unit: 'per kg/m^2' },
  sfa: { hr: 1.005, reference: 70.9, unit: 'per cm^2' },
  sfi: { hr: 0.875, reference: SFI_CUTOFF_CM2_M2, unit: 'per cm^2/m^2' },
} as const;

type Factor = keyof typeof PUBLISHED_HAZARD_RATIOS;

function value(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function publishedEvidence(clinical: ClinicalRecord | null, body: BodyComposition | null): PublishedEvidence {
  const sfi = value(body?.sfiCm2M2);
  const heightM = value(body?.heightM) ?? (value(clinical?.heightCm) !== null ? clinical!.heightCm! / 100 : null);
  const weightKg = value(clinical?.weightKg);
  const bmi = value(clinical?.bmi) ?? (heightM !== null && weightKg !== null ? weightKg / heightM ** 2 : null);
  // Binary factors accept only 0/1; anything else counts as missing (listed in missingInputs).
  const binary = (v: number | null): number | null => (v === 0 || v === 1 ? v : null);
  const ki67 = value(clinical?.ki67);
  const inputs: Record<Factor, number | null> = {
    lvi: binary(value(clinical?.lvi)),
    ki67_ge_20: ki67 === null ? null : ki67 >= 20 ? 1 : 0,
    ductal: binary(value(clinical?.histologic_type)),
    cea: value(clinical?.cea),
    bmi,
    sfa: value(body?.sfaCm2),
    sfi,
  };
  const used: string[] = [];
  const missing: string[] = [];
  let hazard = 1;
  for (const [name, x] of Object.entries(inputs) as [Factor, number | null][]) {
    if (x === null) {
      missing.push(name);
      continue;
    }
    const { hr, reference } = PUBLISHED_HAZARD_RATIOS[name];
    hazard *= hr ** (x - reference);
    used.push(name);
  }
  return {
    label: PUBLISHED_LABEL,
    sfiCutoffCm2M2: SFI_CUTOFF_CM2_M2,
    sfiCategory: sfi === null ? null : sfi < SFI_CUTOFF_CM2_M2 ? 'below-cutoff' : 'at-or-above-cutoff',
    relativeHazard: missing.length === 0 ? hazard : null,
    relativeHazardInputs: used,
    missingInputs: missing,
  };
}
