/**
 * Grad-CAM computed in TypeScript from the network's exported last-stage activation and its head
 * weights (models/HEAD.md): exact for this head, so no gradient export or second network is needed.
 *
 * Head: pooled = mean_hw(A); z = W16 pooled + b16; f = ReLU(z); logits = Wout f + bout.
 * For score s = logits[c] (or logits[c] - logits[other], the "margin"):
 *   d s / d A[k,i,j] = (1/(h w)) * sum_m v[m] * [z[m] > 0] * W16[m][k],  v = Wout[c] (or Wout[c] - Wout[other])
 * which is constant over (i, j), so Grad-CAM's weight alpha_k (the spatial mean of that gradient) equals it.
 * cam = ReLU(sum_k alpha_k A[k]) / max (all zeros when nothing is positive).
 * The ReLU mask [z > 0] comes from recomputing z from the activation here (same float math as the network
 * up to float32 rounding; a z within rounding of 0 contributes ~0 either way).
 * Pure: no I/O (PNG bytes are encoded in memory).
 */
import { PNG } from 'pngjs';

export interface HeadWeights {
  /** [16][C] */
  W16: number[][];
  /** [16] */
  b16: number[];
  /** [2][16] */
  Wout: number[][];
  /** [2] */
  bout: number[];
}

export interface GradCamOptions {
  /** Use logits[classIndex] - logits[1 - classIndex] as the score (what a sigmoid-of-margin probability explains). */
  margin?: boolean;
}

/** Validate a parsed head JSON against the activation channel count; throws naming the problem. */
export function checkHeadWeights(head: HeadWeights, K: number): void {
  const m = head.W16?.length;
  if (!Array.isArray(head.W16) || !m) throw new Error('head weights: W16 missing or empty');
  head.W16.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== K) throw new Error(`head weights: W16[${i}] has ${row?.length} values, activation has ${K} channels`);
  });
  if (!Array.isArray(head.b16) || head.b16.length !== m) throw new Error(`head weights: b16 must have ${m} values`);
  if (!Array.isArray(head.Wout) || head.Wout.length < 2) throw new Error('head weights: Wout must have 2 rows');
  head.Wout.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== m) throw new Error(`head weights: Wout[${i}] must have ${m} values`);
  });
}

/** Grad-CAM on the h x w activation grid, ReLU'd and normalised to 0..1 (row-major h x w). */
export function gradCam(activation: Float32Array, K: number, h: number, w: number, head: HeadWeights, classIndex: number, options: GradCamOptions = {}): Float32Array {
  const hw = h * w;
  if (activation.length !== K * hw) throw new Error(`activation has ${activation.length} values, expected ${K}x${h}x${w}`);
  checkHeadWeights(head, K);
  if (classIndex !== 0 && classIndex !== 1) throw new Error(`classIndex must be 0 or 1, got ${classIndex}`);
  const pooled = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let p = 0; p < hw; p++) s += activation[k * hw + p] as number;
    pooled[k] = s / hw;
  }
  const outRow = head.Wout[classIndex] as number[];
  const otherRow = head.Wout[1 - classIndex] as number[];
  const alpha = new Float64Array(K);
  head.W16.forEach((row, m) => {
    let z = head.b16[m] as number;
    for (let k = 0; k < K; k++) z += (row[k] as number) * (pooled[k] as number);
    if (z <= 0) return; // ReLU closed: no gradient through this feature
    const v = options.margin ? (outRow[m] as number) - (otherRow[m] as number) : (outRow[m] as number);
    for (let k = 0; k < K; k++) alpha[k] = (alpha[k] as number) + (v * (row[k] as number)) / hw;
  });
  const cam = new Float32Array(hw);
  let max = 0;
  for (let p = 0; p < hw; p++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += (alpha[k] as number) * (activation[k * hw + p] as number);
    const v = s > 0 ? s : 0;
    cam[p] = v;
    if (v > max) max = v;
  }
  if (max > 0) for (let p = 0; p < hw; p++) cam[p] = (cam[p] as number) / max;
  return cam;
}

/**
 * Bilinear resize of an h x w map to outH x outW with half-pixel centres (PyTorch
 * F.interpolate(mode='bilinear', align_corners=False) / OpenCV INTER_LINEAR convention).
 */
export function upsampleHeatmap(map: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  if (map.length !== h * w) throw new Error(`heatmap has ${map.length} values, expected ${h}x${w}`);
  const out = new Float32Array(outH * outW);
  const sy = h / outH;
  const sx = w / outW;
  for (let y = 0; y < outH; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(Math.floor(fy), h - 1);
    const y1 = Math.min(y0 + 1, h - 1);
    const ty = fy - y0;
    for (let x = 0; x < outW; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(Math.floor(fx), w - 1);
      const x1 = Math.min(x0 + 1, w - 1);
      const tx = fx - x0;
      const top = (map[y0 * w + x0] as number) * (1 - tx) + (map[y0 * w + x1] as number) * tx;
      const bottom = (map[y1 * w + x0] as number) * (1 - tx) + (map[y1 * w + x1] as number) * tx;
      out[y * outW + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** 'jet' colour map (as matplotlib/OpenCV), value 0..1 -> [r, g, b] 0..255. */
export function jet(v: number): [number, number, number] {
  const t = v < 0 ? 0 : v > 1 ? 1 : v;
  const ch = (x: number): number => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - x))));
  return [ch(3), ch(2), ch(1)];
}

/** Heat below this (0..1) is not drawn, so the CT stays readable where the model did not look. */
export const OVERLAY_MIN_HEAT = 0.2;
/** Maximum opacity of the colour layer. */
export const OVERLAY_ALPHA = 0.5;

/**
 * Overlay a 0..1 heatmap (same size as the grey image) on the grey image: RGB, row-major, 3 bytes per pixel.
 * Opacity grows with heat (0 below OVERLAY_MIN_HEAT) so low-attention regions show the plain CT.
 */
export function renderHeatmapOverlay(grey: Float32Array, heatmap: Float32Array, width: number, height: number): Uint8Array {
  const n = width * height;
  if (grey.length !== n || heatmap.length !== n) throw new Error(`grey (${grey.length}) and heatmap (${heatmap.length}) must both be ${width}x${height}`);
  const rgb = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const g = Math.min(255, Math.max(0, grey[i] as number));
    const v = heatmap[i] as number;
    const a = v <= OVERLAY_MIN_HEAT ? 0 : (OVERLAY_ALPHA * (v - OVERLAY_MIN_HEAT)) / (1 - OVERLAY_MIN_HEAT);
    const [r, gg, b] = jet(v);
    rgb[3 * i] = Math.round(g * (1 - a) + r * a);
    rgb[3 * i + 1] = Math.round(g * (1 - a) + gg * a);
    rgb[3 * i + 2] = Math.round(g * (1 - a) + b * a);
  }
  return rgb;
}

/** Encode an RGB image as PNG bytes (pngjs, in memory). */
export function encodeRgbPng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (rgb.length !== 3 * width * height) throw new Error(`RGB buffer has ${rgb.length} bytes, expected ${3 * width * height}`);
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  return new Uint8Array(PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
}
