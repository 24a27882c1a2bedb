/** src/model/binary-morphology.ts against straightforward reference implementations on random masks. */
import { strict as assert } from 'node:assert';
import { cityBlockDepth, fillHoles, labelComponents, largestComponent } from '../src/model/binary-morphology.ts';

/** Deterministic pseudo-random masks (LCG) with blobs, so components and holes occur. */
function randomMask(width: number, height: number, seed: number, density: number): Uint8Array {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (1664525 * s + 1013904223) >>> 0) / 2 ** 32);
  const m = new Uint8Array(width * height);
  for (let i = 0; i < m.length; i++) m[i] = rnd() < density ? 1 : 0;
  return m;
}

/** One scipy-style binary erosion with the cross structure, outside the image = background. */
function erodeOnce(m: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(m.length);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = r * w + c;
      out[i] = m[i] && r > 0 && r < h - 1 && c > 0 && c < w - 1 && m[i - 1] && m[i + 1] && m[i - w] && m[i + w] ? 1 : 0;
    }
  }
  return out;
}

describe('binary morphology helpers', () => {
  const W = 37;
  const H = 23;
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`cityBlockDepth <= k == removed by k cross erosions (seed ${seed})`, () => {
      const m = randomMask(W, H, seed, 0.8);
      const depth = cityBlockDepth(m, W, H);
      let eroded = m;
      for (let k = 1; k <= 6; k++) {
        eroded = erodeOnce(eroded, W, H);
        for (let i = 0; i < m.length; i++) assert.equal(m[i] && (depth[i] as number) > k ? 1 : 0, eroded[i], `k=${k} pixel ${i}`);
      }
    });

    it(`labels are 4-connected components, fillHoles keeps only border-reachable background (seed ${seed})`, () => {
      const m = randomMask(W, H, seed, 0.55);
      const { labels, count, sizes } = labelComponents(m, W, H);
      assert.equal(sizes.slice(1).reduce((a, b) => a + b, 0), m.reduce((a, b) => a + b, 0));
      for (let i = 0; i < m.length; i++) {
        assert.equal(labels[i] !== 0, m[i] === 1);
        const c = i % W;
        if (c < W - 1 && m[i] && m[i + 1]) assert.equal(labels[i], labels[i + 1]);
        if (i + W < m.length && m[i] && m[i + W]) assert.equal(labels[i], labels[i + W]);
      }
      const largest = largestComponent(m, W, H);
      assert.equal(largest.reduce((a, b) => a + b, 0), Math.max(0, ...sizes.slice(1)));
      assert.ok(count >= 1);
      const filled = fillHoles(m, W, H);
      const bg = labelComponents(Uint8Array.from(m, (v) => 1 - v), W, H);
      const touches = new Set<number>();
      for (let i = 0; i < m.length; i++) {
        const r = Math.floor(i / W);
        const c = i % W;
        if ((r === 0 || r === H - 1 || c === 0 || c === W - 1) && bg.labels[i]) touches.add(bg.labels[i] as number);
      }
      for (let i = 0; i < m.length; i++) assert.equal(filled[i], m[i] || !touches.has(bg.labels[i] as number) ? 1 : 0);
    });
  }
});
