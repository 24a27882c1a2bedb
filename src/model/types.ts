/** Values in and out of the risk model (src/model). Pure: arrays and records, no I/O. */

/** Clinical variables (names as in ../shared/data/lf-dlrn-bc/clinical/train.csv). All optional. */
export interface ClinicalVariables {
  age?: number;
  tumor_size_cm?: number;
  bmi?: number;
  cea?: number;
  pma_t4_cm2?: number;
  pmi_t4_cm2_m2?: number;
  menopause?: number;
  n_stage?: number;
  lvi?: number;
  multifocal?: number;
  er?: number;
  pr?: number;
  her2?: number;
  ki67?: number;
  molecular_subtype?: number;
  endocrine_therapy?: number;
  radiotherapy?: number;
  chemotherapy?: number;
  histologic_type?: number;
  vfa_t11_cm2?: number;
}

/** Clinical record stored per patient (PUT /api/patients/:id/clinical). */
export interface ClinicalRecord extends ClinicalVariables {
  heightCm?: number;
  weightKg?: number;
}

export interface PublishedEvidence {
  /** Always labelled as published evidence from the source paper, not our model. */
  label: string;
  sfiCutoffCm2M2: number;
  /** 'low-sfi' (below 27.7 cm²/m², higher published risk), 'high-sfi', or null when SFI is unknown. */
  sfiCategory: 'below-cutoff' | 'at-or-above-cutoff' | null;
  /** Relative hazard from the paper's Cox HRs vs the documented reference profile; null if inputs missing. */
  relativeHazard: number | null;
  relativeHazardInputs: string[];
  missingInputs: string[];
}

export interface RiskResult {
  modelName: string;
  modelVersion: string;
  /** Which inputs the probability used. */
  inputsUsed: 'imaging-only' | 'imaging+clinical' | 'clinical-only';
  probability: number;
  pImage: number | null;
  pClinical: number | null;
  pCombined: number | null;
  threshold: number;
  /** Probability >= threshold. */
  highRisk: boolean;
  publishedEvidence: PublishedEvidence;
  /** Grad-CAM heatmap on the model input grid (0..1), and its PNG overlay on the T11 slice. */
  heatmap: { width: number; height: number; values: Float32Array } | null;
  heatmapPng: Uint8Array | null;
  warnings: string[];
  researchUseOnly: true;
}
