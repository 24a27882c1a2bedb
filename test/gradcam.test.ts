/**
 * Grad-CAM in TypeScript (src/model/gradcam.ts) against PyTorch's hook-based Grad-CAM on the same
 * network and the same real input: models/gradcam_reference.py builds the project's MaskGuidedResNet
 * (random weights, fixed seed), exports ONNX with the `activation` output and the head JSON, and computes
 * torch Grad-CAM. Here the ONNX runs in onnxruntime-node and gradCam() uses only its activation + the head.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { buildModelChannels, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH } from '../src/model/channels.ts';
import { cohortModelInputs, decodeJpegToGrey } from '../src/model/cohort-image.ts';
import { encodeRgbPng, gradCam, renderHeatmapOverlay, upsampleHeatmap, type HeadWeights } from '../src/model/gradcam.ts';

const IMAGE = new URL('../../shared/data/lf-dlrn-bc/images/t11/train/215.jpg', import.meta.url).pathname;
const REFERENCE = new URL('../models/gradcam_reference.py', import.meta.url).pathname;

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('Grad-CAM vs PyTorch hooks (real T11 input, project network with random weights)', function () {
  const work = mkdtempSync(join(tmpdir(), 'bonemet-gradcam-'));
  let grey: Float32Array;
  let activation: Float32Array;
  let dims: { K: number; h: number; w: number };

  before(async function () {
    const img = decodeJpegToGrey(readFileSync(IMAGE));
    const inputs = cohortModelInputs(img);
    grey = inputs.grey;
    const channels = buildModelChannels(inputs.grey, inputs.satMask);
    writeFileSync(join(work, 'input.f32'), Buffer.from(channels.buffer));
    for (const [dir, extra] of [['logit1', []], ['logit0', ['--class', '0']], ['margin', ['--margin']]] as const) {
      execFileSync('/usr/bin/python3', [REFERENCE, join(work, 'input.f32'), join(work, dir), ...extra], { stdio: 'pipe', env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
    }
    const session = await ort.InferenceSession.create(join(work, 'logit1', 'net.onnx'), { intraOpNumThreads: 1 });
    const out = await session.run({ channels: new ort.Tensor('float32', channels, [1, 4, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH]) });
    const act = out.activation!;
    const [, K, h, w] = act.dims as number[];
    dims = { K: K!, h: h!, w: w! };
    activation = act.data as Float32Array;
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const [dir, classIndex, margin] of [['logit1', 1, false], ['logit0', 0, false], ['margin', 1, true]] as const) {
    it(`matches torch for score ${dir}`, () => {
      const meta = JSON.parse(readFileSync(join(work, dir, 'meta.json'), 'utf8'));
      const head = JSON.parse(readFileSync(join(work, dir, 'head.json'), 'utf8')) as HeadWeights;
      assert.deepEqual([dims.K, dims.h, dims.w], [meta.C, meta.h, meta.w]);
      const ref = readF32(join(work, dir, 'cam.f32'));
      const mine = gradCam(activation, dims.K, dims.h, dims.w, head, classIndex, { margin });
      const diff = maxAbsDiff(mine, ref);
      const positive = ref.filter((v) => v > 0).length;
      console.log(`    ${dir}: ${dims.K}x${dims.h}x${dims.w}, ${meta.activeFeatures}/16 features active, ${positive}/${ref.length} cells > 0, max |diff| ${diff.toExponential(2)}`);
      assert.ok(meta.activeFeatures > 0 && meta.activeFeatures < 16, 'reference should exercise the ReLU mask (some features on, some off)');
      assert.ok(positive > 0, 'reference CAM is all zero: test would prove nothing');
      assert.ok(diff < 1e-4, `Grad-CAM differs from torch by ${diff}`);
    });
  }

  it('upsampling matches torch bilinear (align_corners=False) to 400 x 500', () => {
    const ref = readF32(join(work, 'logit1', 'cam.f32'));
    const up = upsampleHeatmap(ref, dims.h, dims.w, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH);
    const diff = maxAbsDiff(up, readF32(join(work, 'logit1', 'cam_up.f32')));
    console.log(`    upsample max |diff| ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-5);
  });

  it('renders an RGB overlay PNG: plain grey where cold, coloured where hot', () => {
    const cam = readF32(join(work, 'logit1', 'cam.f32'));
    const heat = upsampleHeatmap(cam, dims.h, dims.w, MODEL_INPUT_HEIGHT, MODEL_INPUT_WIDTH);
    const rgb = renderHeatmapOverlay(grey, heat, MODEL_INPUT_WIDTH, MODEL_INPUT_HEIGHT);
    const png = PNG.sync.read(Buffer.from(encodeRgbPng(rgb, MODEL_INPUT_WIDTH, MODEL_INPUT_HEIGHT)));
    assert.equal(png.width, MODEL_INPUT_WIDTH);
    assert.equal(png.height, MODEL_INPUT_HEIGHT);
    let hottest = 0;
    for (let i = 1; i < heat.length; i++) if ((heat[i] as number) > (heat[hottest] as number)) hottest = i;
    const [r, g, b] = [png.data[4 * hottest]!, png.data[4 * hottest + 1]!, png.data[4 * hottest + 2]!];
    assert.ok(r !== g || g !== b, 'hottest pixel should be coloured');
    const cold = heat.findIndex((v) => v === 0);
    if (cold >= 0) {
      const gv = Math.round(grey[cold] as number);
      assert.deepEqual([png.data[4 * cold], png.data[4 * cold + 1], png.data[4 * cold + 2]], [gv, gv, gv]);
    }
  });
});
