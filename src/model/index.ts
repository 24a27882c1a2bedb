/**
 * The risk model as the service uses it: `loadRiskModel(dir)` reads models/shipped (manifest.json +
 * ONNX files; the only I/O here) and returns `predict()`, which picks the path from what is present:
 *   channels + usable clinical -> combined GBDT ('imaging+clinical')
 *   channels only              -> CNN probability ('imaging-only')
 *   usable clinical only       -> clinical GBDT ('clinical-only')
 *   nothing usable             -> throws RiskInputError (the caller reports "no risk estimate").
 * p_image, p_clinical and p_combined are all reported when computable, with one decision threshold
 * per path (Youden's J on out-of-fold CV predictions, manifest.json).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { BodyComposition } from '../analysis/types.ts';
import { buildClinicalVector, type ClinicalSpec } from './clinical.ts';
import { checkHeadWeights, encodeRgbPng, gradCam, renderHeatmapOverlay, upsampleHeatmap, type HeadWeights } from './gradcam.ts';
import { createSession, runCnn, runTreeEnsemble, type CnnOutputs } from './infer.ts';
import { publishedEvidence } from './published-evidence.ts';
import type { ClinicalRecord, RiskResult } from './types.ts';

export const CNN_INPUT_SHAPE = { channels: 4, height: 400, width: 500 } as const;

export interface RiskManifest {
  modelName: string;
  modelVersion: string;
  clinical: ClinicalSpec & { onnx: string; threshold: number };
  image?: { onnx: string; head: string; input: { name: string; shape: number[] }; threshold: number };
  combined?: { onnx: string; kind: 'image-logit+clinical' | 'features16+clinical'; features: string[]; threshold: number };
}

export interface PredictInput {
  /** 4 x 400 x 500 channel-major tensor from buildModelChannels (src/model/channels.ts). */
  channels?: Float32Array;
  clinical: ClinicalRecord | null;
  bodyComposition: BodyComposition | null;
}

/** Extra, non-contract outputs useful to Grad-CAM and tests. */
export interface RiskPrediction extends RiskResult {
  cnn: CnnOutputs | null;
}

export interface RiskModel {
  readonly manifest: RiskManifest;
  /** Head weights (models/shipped/cnn-head.json) for Grad-CAM; null without an image model. */
  readonly cnnHead: HeadWeights | null;
  predict(input: PredictInput): Promise<RiskPrediction>;
}

/** Thrown when neither imaging nor clinical input can be used: nothing to predict from. */
export class RiskInputError extends Error {}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function checkManifest(m: unknown, file: string): RiskManifest {
  const bad = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  if (typeof m !== 'object' || m === null) bad('not a JSON object');
  const r = m as Partial<RiskManifest>;
  if (typeof r.modelName !== 'string' || typeof r.modelVersion !== 'string') bad('modelName/modelVersion missing');
  const c = r.clinical;
  if (!c || typeof c.onnx !== 'string' || !Array.isArray(c.features) || typeof c.threshold !== 'number') {
    bad('clinical section incomplete (onnx, features, threshold)');
  }
  for (const f of c!.features) if (typeof c!.medians?.[f] !== 'number') bad(`clinical median missing for ${f}`);
  if (r.combined && (!r.image || !Array.isArray(r.combined.features))) bad('combined model needs an image model and features');
  return r as RiskManifest;
}

export async function loadRiskModel(dir: string): Promise<RiskModel> {
  const manifestFile = path.join(dir, 'manifest.json');
  let manifestText: string;
  try {
    manifestText = await readFile(manifestFile, 'utf8');
  } catch (err) {
    throw new Error(`risk model not found: cannot read ${manifestFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const manifest = checkManifest(JSON.parse(manifestText), manifestFile);
  const load = async (file: string): Promise<InferenceSession> => createSession(await readFile(path.join(dir, file)));
  const clinicalSession = await load(manifest.clinical.onnx);
  const cnnSession = manifest.image ? await load(manifest.image.onnx) : null;
  const combinedSession = manifest.combined ? await load(manifest.combined.onnx) : null;
  const cnnHead = manifest.image
    ? (JSON.parse(await readFile(path.join(dir, manifest.image.head), 'utf8')) as HeadWeights & { activationChannels: number })
    : null;
  if (cnnHead) checkHeadWeights(cnnHead, cnnHead.activationChannels);
  const nClinical = manifest.clinical.features.length;

  async function predict(input: PredictInput): Promise<RiskPrediction> {
    const warnings: string[] = [];
    const clinical = buildClinicalVector(input.clinical, input.bodyComposition, manifest.clinical);
    warnings.push(...clinical.warnings);

    let cnn: CnnOutputs | null = null;
    let pImage: number | null = null;
    let imageLogit: number | null = null;
    if (input.channels !== undefined) {
      if (cnnSession === null) {
        warnings.push('this model has no image part: imaging input not used');
      } else {
        // A NaN would flow through the network into a NaN probability that compares false with the
        // threshold ("low risk") silently: refuse non-finite input instead.
        const bad = input.channels.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw new Error(`image channels contain a non-finite value at index ${bad}`);
        cnn = await runCnn(cnnSession, input.channels, CNN_INPUT_SHAPE);
        imageLogit = cnn.logits[1]! - cnn.logits[0]!;
        if (!Number.isFinite(imageLogit)) throw new Error('the image model returned a non-finite logit');
        pImage = sigmoid(imageLogit);
      }
    } else {
      warnings.push('no T11 image channels: image and combined models not used');
    }

    let pClinical: number | null = null;
    if (clinical.vector) pClinical = (await runTreeEnsemble(clinicalSession, clinical.vector, nClinical))[0]!;

    let pCombined: number | null = null;
    if (clinical.vector && cnn && combinedSession && manifest.combined) {
      const head = manifest.combined.kind === 'image-logit+clinical' ? [imageLogit!] : Array.from(cnn.features16);
      const row = Float32Array.from([...head, ...clinical.vector]);
      pCombined = (await runTreeEnsemble(combinedSession, row, manifest.combined.features.length))[0]!;
    }

    let heatmap: RiskResult['heatmap'] = null;
    let heatmapPng: Uint8Array | null = null;
    if (cnn && cnnHead && input.channels) {
      // Grad-CAM of the margin logits[1] - logits[0]: the image probability is sigmoid of that margin.
      const { data, channels, height, width } = cnn.activation;
      const cam = gradCam(data, channels, height, width, cnnHead, 1, { margin: true });
      const values = upsampleHeatmap(cam, height, width, CNN_INPUT_SHAPE.height, CNN_INPUT_SHAPE.width);
      heatmap = { width: CNN_INPUT_SHAPE.width, height: CNN_INPUT_SHAPE.height, values };
      const plane = CNN_INPUT_SHAPE.width * CNN_INPUT_SHAPE.height;
      const grey = new Float32Array(plane);
      for (let i = 0; i < plane; i++) grey[i] = input.channels[i]! * 255; // channel 0 = grey / 255
      heatmapPng = encodeRgbPng(renderHeatmapOverlay(grey, values, CNN_INPUT_SHAPE.width, CNN_INPUT_SHAPE.height),
        CNN_INPUT_SHAPE.width, CNN_INPUT_SHAPE.height);
    }

    let inputsUsed: RiskResult['inputsUsed'];
    let probability: number;
    let threshold: number;
    if (pCombined !== null) {
      inputsUsed = 'imaging+clinical';
      probability = pCombined;
      threshold = manifest.combined!.threshold;
    } else if (pImage !== null) {
      inputsUsed = 'imaging-only';
      probability = pImage;
      threshold = manifest.image!.threshold;
    } else if (pClinical !== null) {
      inputsUsed = 'clinical-only';
      probability = pClinical;
      threshold = manifest.clinical.threshold;
    } else {
      throw new RiskInputError(`no usable input for the risk model: ${warnings.join('; ')}`);
    }
    return {
      modelName: manifest.modelName,
      modelVersion: manifest.modelVersion,
      inputsUsed,
      probability,
      pImage,
      pClinical,
      pCombined,
      threshold,
      highRisk: probability >= threshold,
      publishedEvidence: publishedEvidence(input.clinical, input.bodyComposition),
      heatmap,
      heatmapPng,
      warnings,
      researchUseOnly: true,
      cnn,
    };
  }

  return { manifest, cnnHead, predict };
}
