/**
 * Thin wrappers around onnxruntime-node: create a session from bytes, run the tree ensembles and
 * the CNN. Pure compute (bytes in, numbers out); reading the model files happens in index.ts.
 */
import * as ort from 'onnxruntime-node';

/** 2 threads: the machine has 2 cores; more only adds contention. */
export async function createSession(modelBytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelBytes, {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

/**
 * Runs an ai.onnx.ml TreeEnsembleClassifier written by models/tree_to_onnx.py
 * (input [N, nFeatures] float32, output `probabilities` [N, 2]); returns P(label = 1) per row.
 */
export async function runTreeEnsemble(
  session: ort.InferenceSession,
  rows: Float32Array,
  nFeatures: number,
): Promise<number[]> {
  if (nFeatures <= 0 || rows.length % nFeatures !== 0) {
    throw new Error(`tree input has ${rows.length} values, not a multiple of ${nFeatures} features`);
  }
  const n = rows.length / nFeatures;
  const inputName = session.inputNames[0];
  if (inputName === undefined) throw new Error('tree model has no input');
  const out = await session.run({ [inputName]: new ort.Tensor('float32', rows, [n, nFeatures]) });
  const probs = out['probabilities'];
  if (probs === undefined) throw new Error('tree model has no "probabilities" output');
  const data = probs.data as Float32Array;
  const result: number[] = [];
  for (let i = 0; i < n; i++) result.push(data[i * 2 + 1]!);
  return result;
}

export interface CnnOutputs {
  /** The 16 network features (input of the fused GBDT). */
  features16: Float32Array;
  /** Two-class logits [no metastasis, metastasis]. */
  logits: Float32Array;
  /** Activation map of the Grad-CAM layer, [C, h, w] (batch dimension dropped). */
  activation: { data: Float32Array; channels: number; height: number; width: number };
}

/** Runs the exported CNN on one 4 x H x W channel tensor (see models/HEAD.md for the outputs). */
export async function runCnn(
  session: ort.InferenceSession,
  channels: Float32Array,
  shape: { channels: number; height: number; width: number },
): Promise<CnnOutputs> {
  const expected = shape.channels * shape.height * shape.width;
  if (channels.length !== expected) {
    throw new Error(`CNN input has ${channels.length} values, expected ${shape.channels}x${shape.height}x${shape.width}`);
  }
  const out = await session.run({
    channels: new ort.Tensor('float32', channels, [1, shape.channels, shape.height, shape.width]),
  });
  const f = out['features16'];
  const l = out['logits'];
  const a = out['activation'];
  if (!f || !l || !a) throw new Error('CNN model lacks one of the outputs features16, logits, activation');
  const dims = a.dims;
  return {
    features16: f.data as Float32Array,
    logits: l.data as Float32Array,
    activation: {
      data: a.data as Float32Array,
      channels: Number(dims[1]),
      height: Number(dims[2]),
      width: Number(dims[3]),
    },
  };
}
