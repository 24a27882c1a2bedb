/**
 * The TypeScript HOG and LBP channels against scikit-image 0.19.3 (Debian /usr/bin/python3) on real
 * cohort T11 images. The grey image is made once in TypeScript (jpeg-js decode + Pillow-style luma,
 * see src/model/cohort-image.ts) and handed to Python as raw float64, so the comparison isolates
 * the HOG/LBP algorithms. A separate check reports how far jpeg-js + our luma is from
 * Pillow's own `Image.open(f).convert('L')` on the same files.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJpegToGrey } from '../src/model/cohort-image.ts';
import { buildModelChannels, HOG_CHANNEL_DIVISOR, LBP_CHANNEL_DIVISOR } from '../src/model/channels.ts';
import { hogVisualisation } from '../src/model/hog.ts';
import { localBinaryPattern } from '../src/model/lbp.ts';

const T11_TRAIN = new URL('../../shared/data/lf-dlrn-bc/images/t11/train/', import.meta.url).pathname;

const PYTHON_REFERENCE = `
import sys, numpy as np
from PIL import Image
from skimage.feature import hog, local_binary_pattern
work, n, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for k in range(n):
    g = np.fromfile(f'{work}/grey{k}.f64', dtype=np.float64).reshape(h, w)
    _, vis = hog(g, orientations=8, pixels_per_cell=(16, 16), cells_per_block=(1, 1), visualize=True)
    vis.astype(np.float64).tofile(f'{work}/hog{k}.f64')
    local_binary_pattern(g, P=24, R=3, method='default').astype(np.float64).tofile(f'{work}/lbp{k}.f64')
    path = open(f'{work}/path{k}.txt').read()
    np.asarray(Image.open(path).convert('L'), dtype=np.float64).tofile(f'{work}/pil{k}.f64')
`;

function readF64(path: string): Float64Array {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe('HOG and LBP channels vs scikit-image (real T11 images)', function () {
  const files = readdirSync(T11_TRAIN).filter((f) => f.endsWith('.jpg')).sort((a, b) => parseInt(a) - parseInt(b));
  // Every 37th train image: 5 images spread over the id range (incl. overlay-glyph images), keeps runtime small.
  const chosen = files.filter((_, i) => i % 37 === 0);
  const work = mkdtempSync(join(tmpdir(), 'bonemet-channels-'));
  const ours: { hog: Float32Array; lbp: Float32Array; grey: Float32Array }[] = [];
  let width = 0;
  let height = 0;

  before(function () {
    chosen.forEach((f, k) => {
      const img = decodeJpegToGrey(readFileSync(join(T11_TRAIN, f)));
      width = img.width;
      height = img.height;
      writeFileSync(join(work, `grey${k}.f64`), Buffer.from(Float64Array.from(img.grey).buffer));
      writeFileSync(join(work, `path${k}.txt`), join(T11_TRAIN, f));
      ours.push({ grey: img.grey, hog: hogVisualisation(img.grey, img.width, img.height), lbp: localBinaryPattern(img.grey, img.width, img.height) });
    });
    execFileSync('/usr/bin/python3', ['-c', PYTHON_REFERENCE, work, String(chosen.length), String(height), String(width)], { stdio: 'inherit' });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('images are 500 x 400', () => {
    assert.equal(width, 500);
    assert.equal(height, 400);
  });

  it('LBP (P=24, R=3, default) equals skimage exactly on every pixel', () => {
    chosen.forEach((f, k) => {
      const ref = readF64(join(work, `lbp${k}.f64`));
      const mine = ours[k]!.lbp;
      let mismatches = 0;
      for (let i = 0; i < ref.length; i++) if (ref[i] !== mine[i]) mismatches++;
      console.log(`    LBP ${f}: ${mismatches} of ${ref.length} pixels differ`);
      assert.equal(mismatches, 0, `${f}: ${mismatches} LBP pixels differ from skimage`);
    });
  });

  it('HOG visualisation equals skimage within float32 tolerance', () => {
    chosen.forEach((f, k) => {
      const ref = readF64(join(work, `hog${k}.f64`));
      const mine = ours[k]!.hog;
      let maxAbs = 0;
      let maxRef = 0;
      for (let i = 0; i < ref.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs((ref[i] as number) - (mine[i] as number)));
        maxRef = Math.max(maxRef, Math.abs(ref[i] as number));
      }
      console.log(`    HOG ${f}: max |diff| ${maxAbs.toExponential(2)} (max value ${maxRef.toFixed(2)})`);
      assert.ok(maxRef > 1, `${f}: skimage HOG image is unexpectedly flat`);
      assert.ok(maxAbs <= 1e-5 * maxRef, `${f}: HOG differs by ${maxAbs} (max ${maxRef})`);
    });
  });

  it('buildModelChannels stacks [CT/255, HOG/100, LBP/2^24, fat +-0.5] channel-major, matching skimage', () => {
    const n = width * height;
    const sat = new Uint8Array(n);
    for (let i = 0; i < n; i += 3) sat[i] = 1;
    const ch = buildModelChannels(ours[0]!.grey, sat);
    assert.equal(ch.length, 4 * n);
    const refHog = readF64(join(work, 'hog0.f64'));
    const refLbp = readF64(join(work, 'lbp0.f64'));
    let worstHog = 0;
    for (let i = 0; i < n; i++) {
      assert.equal(ch[i], Math.fround((ours[0]!.grey[i] as number) / 255));
      worstHog = Math.max(worstHog, Math.abs((ch[n + i] as number) * HOG_CHANNEL_DIVISOR - (refHog[i] as number)));
      assert.equal(Math.round((ch[2 * n + i] as number) * LBP_CHANNEL_DIVISOR), refLbp[i]);
      assert.equal(ch[3 * n + i], sat[i] ? 0.5 : -0.5);
    }
    assert.ok(worstHog < 1e-4, `HOG channel off by ${worstHog}`);
  });

  it('buildModelChannels rejects wrong sizes and out-of-range grey', () => {
    const n = 500 * 400;
    assert.throws(() => buildModelChannels(new Float32Array(10), new Uint8Array(n)), /grey image has 10 pixels/);
    assert.throws(() => buildModelChannels(new Float32Array(n), new Uint8Array(5)), /fat mask has 5 pixels/);
    const bad = new Float32Array(n);
    bad[7] = 300;
    assert.throws(() => buildModelChannels(bad, new Uint8Array(n)), /grey value 300 at pixel 7/);
  });

  it('jpeg-js + luma is close to Pillow convert("L") (reported; decoders differ in IDCT/upsampling)', () => {
    chosen.forEach((f, k) => {
      const ref = readF64(join(work, `pil${k}.f64`));
      const mine = ours[k]!.grey;
      let maxAbs = 0;
      let sumAbs = 0;
      let differing = 0;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs((ref[i] as number) - (mine[i] as number));
        maxAbs = Math.max(maxAbs, d);
        sumAbs += d;
        if (d > 0) differing++;
      }
      console.log(`    grey ${f}: vs Pillow max |diff| ${maxAbs}, mean ${(sumAbs / ref.length).toFixed(3)}, ${((100 * differing) / ref.length).toFixed(1)} % pixels differ`);
      assert.ok(maxAbs <= 8, `${f}: jpeg-js grey differs from Pillow by ${maxAbs} levels`);
    });
  });
});
