import { z } from 'zod';

/**
 * Validation of clinical data at the HTTP edge. Ranges are generous physiological/plausibility
 * bounds (a typo such as height 1.65 instead of 165 must be refused, not used); codes follow
 * ../shared/data/lf-dlrn-bc/README.md (the model's training table).
 */
const code = (max: number) => z.number().int().min(0).max(max);
const binary = code(1);

export const clinicalRecordSchema = z
  .object({
    heightCm: z.number().min(100).max(250),
    weightKg: z.number().min(20).max(350),
    age: z.number().min(0).max(120),
    tumor_size_cm: z.number().min(0).max(30),
    bmi: z.number().min(10).max(80),
    cea: z.number().min(0).max(10000),
    pma_t4_cm2: z.number().min(0).max(300),
    pmi_t4_cm2_m2: z.number().min(0).max(150),
    menopause: binary,
    n_stage: code(3),
    lvi: binary,
    multifocal: binary,
    er: binary,
    pr: binary,
    her2: binary,
    ki67: z.number().min(0).max(100),
    molecular_subtype: z.number().int().min(1).max(5),
    endocrine_therapy: code(3),
    radiotherapy: binary,
    chemotherapy: binary,
    histologic_type: binary,
    vfa_t11_cm2: z.number().min(0).max(1000),
  })
  .partial()
  .strict();

export type ValidatedClinicalRecord = z.infer<typeof clinicalRecordSchema>;

/** Every problem as "<field>: <message>", for a 400 answer. */
export function clinicalErrors(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const key = i.path.map(String).join('.') || '(body)';
    if (i.code === 'unrecognized_keys') return `${i.keys.join(', ')}: unknown field`;
    return `${key}: ${i.message}`;
  });
}
