/**
 * DICOM T11 slice -> standardised 500 x 400 cohort-like image + fat mask (src/model/standardise.ts),
 * on the real chest CT (chest-ct-1, mid-T11 = InstanceNumber 190, 0.703 mm pixels), using the
 * project's own volume builder and tissue segmentation.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCtVolume } from '../src/analysis/volume.ts';
import { segmentTissues } from '../src/analysis/tissue.ts';
import type { CtVolume, TissueMasks } from '../src/analysis/types.ts';
import { CHANNEL_NAMES } from '../src/model/channels.ts';
import { cohortFatMasks, decodeJpegToGrey } from '../src/model/cohort-image.ts';
import { dicomT11ModelInput, STANDARD_BODY_CENTRE, STANDARD_PIXEL_MM } from '../src/model/standardise.ts';

const DICOM_DIR = new URL('../../shared/data/ct/chest-ct-1/dicom/', import.meta.url).pathname;
const COHORT_T11 = new URL('../../shared/data/lf-dlrn-bc/images/t11/train/', import.meta.url).pathname;

/**
 * Image noise in fat (grey levels): robust SD of horizontal neighbour differences / sqrt(2), inside the
 * fat mask away from its edges. HOG and LBP respond to texture, so live images should be about as noisy as the cohort's.
 */
function fatNoise(grey: Float32Array, sat: Uint8Array, width: number): number {
  const d: number[] = [];
  for (let i = width + 1; i < grey.length - width - 1; i++) {
    if (!sat[i] || !sat[i + 1] || !sat[i - 1] || !sat[i + width] || !sat[i - width]) continue;
    if ((grey[i] as number) < 40 || (grey[i] as number) > 200) continue;
    d.push(Math.abs((grey[i + 1] as number) - (grey[i] as number)));
  }
  d.sort((a, b) => a - b);
  return (1.4826 * (d[Math.floor(d.length / 2)] as number)) / Math.SQRT2;
}

describe('standardise a DICOM T11 slice to the cohort-like model input (chest-ct-1)', function () {
  let volume: CtVolume;
  let masks: TissueMasks;
  let k: number;
  before(async function () {
    const inputs = [189, 190, 191].map((n) => {
      const b = readFileSync(join(DICOM_DIR, `1-${String(n).padStart(3, '0')}.dcm`));
      return { bytes: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), label: `1-${n}.dcm` };
    });
    volume = await buildCtVolume(inputs);
    k = volume.sliceZMm.findIndex((z) => Math.abs(z - -268.5) < 0.7);
    assert.ok(k >= 0, 'mid-T11 slice (z -268.5) not found');
    masks = segmentTissues(volume, k);
  });

  it('places the body at the cohort position, at 0.78 mm per pixel, with the fat mask area preserved', () => {
    const n = volume.rows * volume.columns;
    const slice = { hu: volume.hu.subarray(k * n, (k + 1) * n), rows: volume.rows, columns: volume.columns, pixelSpacingMm: volume.pixelSpacingMm, paddingMask: volume.paddingMask.subarray(k * n, (k + 1) * n) };
    const { channels, standardised: s } = dicomT11ModelInput(slice, masks, { fatMask: 'segmentation' });
    assert.equal(channels.length, CHANNEL_NAMES.length * 500 * 400);
    assert.equal(s.pixelMm, STANDARD_PIXEL_MM);
    assert.deepEqual(s.warnings, []);
    // Body bounding box of the output (grey above the air level) is centred where the cohort's is.
    let r0 = 400, r1 = -1, c0 = 500, c1 = -1;
    for (let y = 0; y < 400; y++) for (let x = 0; x < 500; x++) if ((s.grey[y * 500 + x] as number) > 7) { r0 = Math.min(r0, y); r1 = Math.max(r1, y); c0 = Math.min(c0, x); c1 = Math.max(c1, x); }
    const centre = { column: (c0 + c1) / 2, row: (r0 + r1) / 2 };
    console.log(`    output body box rows ${r0}..${r1}, columns ${c0}..${c1} (centre ${centre.row}, ${centre.column}); width ${c1 - c0 + 1} px (cohort median 410)`);
    assert.ok(Math.abs(centre.column - STANDARD_BODY_CENTRE.column) < 6, "not centred left-right");
    assert.ok(r0 >= 3 && r1 <= 396 && c0 >= 3 && c1 <= 496, "body cut by the frame");
    const [sy, sx] = volume.pixelSpacingMm;
    const satSrcCm2 = (masks.subcutaneousFat.reduce((a, b) => a + b, 0) * sy * sx) / 100;
    const satOutCm2 = (s.satMask.reduce((a, b) => a + b, 0) * s.pixelMm * s.pixelMm) / 100;
    console.log(`    SAT area source ${satSrcCm2.toFixed(1)} cm2, standardised ${satOutCm2.toFixed(1)} cm2`);
    assert.ok(satSrcCm2 > 5, 'segmentation found almost no subcutaneous fat');
    assert.ok(Math.abs(satOutCm2 - satSrcCm2) / satSrcCm2 < 0.05);
    // Fat renders grey around the cohort's fat peak (121), not black or white.
    const fatGrey: number[] = [];
    for (let i = 0; i < s.satMask.length; i++) if (s.satMask[i]) fatGrey.push(s.grey[i] as number);
    fatGrey.sort((a, b) => a - b);
    const median = fatGrey[Math.floor(fatGrey.length / 2)] as number;
    console.log(`    median grey of subcutaneous fat ${median} (cohort fat peak 113..121)`);
    assert.ok(median > 80 && median < 170);
    // The fat-mask channel is exactly +-0.5 and matches satMask.
    const off = 3 * 500 * 400;
    for (let i = 0; i < s.satMask.length; i += 97) assert.equal(channels[off + i], s.satMask[i] ? 0.5 : -0.5);
  });

  it("default fat mask = the training pipeline's mask on the standardised image; agrees with the segmentation's SAT", () => {
    const n = volume.rows * volume.columns;
    const slice = { hu: volume.hu.subarray(k * n, (k + 1) * n), rows: volume.rows, columns: volume.columns, pixelSpacingMm: volume.pixelSpacingMm, paddingMask: volume.paddingMask.subarray(k * n, (k + 1) * n) };
    const { standardised: asTraining } = dicomT11ModelInput(slice, masks);
    const { standardised: fromSeg } = dicomT11ModelInput(slice, masks, { fatMask: 'segmentation' });
    assert.equal(asTraining.fatMaskSource, 'as-training');
    assert.deepEqual(asTraining.satMask, cohortFatMasks(asTraining.grey, 500, 400).satMask);
    let both = 0;
    let a = 0;
    let b = 0;
    for (let i = 0; i < asTraining.satMask.length; i++) {
      a += asTraining.satMask[i]!;
      b += fromSeg.satMask[i]!;
      both += asTraining.satMask[i]! & fromSeg.satMask[i]!;
    }
    const dice = (2 * both) / (a + b);
    console.log(`    SAT mask as-training ${a} px vs segmentation ${b} px: Dice ${dice.toFixed(3)}`);
    assert.ok(dice > 0.7, `Dice ${dice}`);
  });

  it('has image noise in fat comparable to the cohort images (texture channels see similar input)', () => {
    const n = volume.rows * volume.columns;
    const slice = { hu: volume.hu.subarray(k * n, (k + 1) * n), rows: volume.rows, columns: volume.columns, pixelSpacingMm: volume.pixelSpacingMm };
    const { standardised: s } = dicomT11ModelInput(slice, masks, { fatMask: 'segmentation' });
    const live = fatNoise(s.grey, s.satMask, 500);
    const cohort = ['16', '89', '157', '215', '493'].map((id) => {
      const g = decodeJpegToGrey(readFileSync(join(COHORT_T11, `${id}.jpg`))).grey;
      return fatNoise(g, cohortFatMasks(g, 500, 400, 'edge-connected').satMask, 500);
    });
    cohort.sort((a, b) => a - b);
    const median = cohort[2] as number;
    console.log(`    noise in fat: standardised chest-ct-1 ${live.toFixed(1)} grey levels; cohort ${cohort.map((v) => v.toFixed(1)).join(', ')} (median ${median.toFixed(1)})`);
    assert.ok(live > median / 2 && live < median * 2, 'live image noise is far from the cohort images');
  });

  it('shrinks (with a warning) instead of cutting a body that is too large for the frame', () => {
    const n = volume.rows * volume.columns;
    const slice = { hu: volume.hu.subarray(k * n, (k + 1) * n), rows: volume.rows, columns: volume.columns, pixelSpacingMm: [1.5, 1.5] as [number, number] };
    const { standardised: s } = dicomT11ModelInput(slice, masks);
    assert.ok(s.pixelMm > STANDARD_PIXEL_MM);
    assert.equal(s.warnings.length, 1);
    let touching = 0;
    for (let y = 0; y < 400; y++) touching += (s.grey[y * 500] as number) > 7 || (s.grey[y * 500 + 499] as number) > 7 ? 1 : 0;
    assert.equal(touching, 0, 'body reaches the left/right frame edge');
  });

  it('rejects masks of another size and slices without a body', () => {
    const n = volume.rows * volume.columns;
    const slice = { hu: volume.hu.subarray(k * n, (k + 1) * n), rows: volume.rows, columns: volume.columns, pixelSpacingMm: volume.pixelSpacingMm };
    assert.throws(() => dicomT11ModelInput(slice, { ...masks, rows: 10 }), /masks are 10x/);
    assert.throws(() => dicomT11ModelInput(slice, { ...masks, body: new Uint8Array(n) }), /no body/);
  });
});
