/**
 * Grey -> HU calibration of the cohort's T11 images, checked against the one physical quantity the
 * cohort records: vfa_t11_cm2 (visceral fat area at T11, 185 train patients).
 * Our visceral fat = pixels in the paper's VAT window (-150..-50 HU after calibration) that are not
 * subcutaneous fat. Pixel area is unknown (crops have no spacing) and Pearson r is scale-free, so we
 * correlate pixel counts (one assumed constant pixel area).
 * Two segmentations are checked: edgeConnectedFatMasks (fast, all 185 images) and the project's tissue
 * segmentation used for the fat-mask channel (src/analysis/tissue.ts, ~1-2 s per image): on every 5th image
 * by default, on all 185 with BONEMET_FULL_CALIBRATION=1.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COHORT_FAT_MASK_METHOD,
  COHORT_WINDOW_HU,
  cohortFatMasks,
  cohortGreyToHu,
  decodeJpegToGrey,
  edgeConnectedFatMasks,
  huToCohortGrey,
  type GreyImage,
} from '../src/model/cohort-image.ts';

const COHORT = new URL('../../shared/data/lf-dlrn-bc/', import.meta.url).pathname;

function pearson(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}

function readTrainVfa(): { id: string; vfa: number }[] {
  const lines = readFileSync(join(COHORT, 'clinical/train.csv'), 'utf8').trim().split(/\r?\n/);
  const header = (lines[0] as string).split(',');
  const idCol = header.indexOf('id');
  const vfaCol = header.indexOf('vfa_t11_cm2');
  assert.ok(idCol >= 0 && vfaCol >= 0, 'train.csv lacks id or vfa_t11_cm2');
  return lines.slice(1).map((l) => {
    const cells = l.split(',');
    return { id: cells[idCol] as string, vfa: Number(cells[vfaCol]) };
  });
}

describe('cohort T11 grey -> HU calibration (train split vs recorded VFA)', function () {
  const rows = readTrainVfa();
  const images = new Map<string, GreyImage>();
  before(function () {
    for (const { id } of rows) images.set(id, decodeJpegToGrey(readFileSync(join(COHORT, `images/t11/train/${id}.jpg`))));
  });

  it('has 185 train rows with VFA', () => {
    assert.equal(rows.length, 185);
    assert.ok(rows.every((r) => Number.isFinite(r.vfa) && r.vfa > 0));
  });

  it('the in-body fat peak lands near -100 HU (independent anchor)', () => {
    const hist = new Float64Array(256);
    for (const img of images.values()) {
      const masks = edgeConnectedFatMasks(cohortGreyToHu(img.grey), img.width, img.height);
      for (let i = 0; i < img.grey.length; i++) if (masks.body[i]) hist[img.grey[i] as number]! += 1;
    }
    let peak = 30;
    for (let g = 30; g <= 230; g++) if ((hist[g] as number) > (hist[peak] as number)) peak = g;
    const [lo, hi] = COHORT_WINDOW_HU;
    const peakHu = lo + (peak / 255) * (hi - lo);
    console.log(`    window [${lo}, ${hi}] HU; fat peak grey ${peak} -> ${peakHu.toFixed(1)} HU; -50 HU -> grey ${huToCohortGrey(-50).toFixed(1)}`);
    assert.ok(peakHu > -115 && peakHu < -85, `fat peak at ${peakHu} HU`);
  });

  it('edge-connected visceral fat pixel count correlates with vfa_t11_cm2 (goal r >= 0.85)', () => {
    const ours: number[] = [];
    const recorded: number[] = [];
    const satCounts: number[] = [];
    for (const { id, vfa } of rows) {
      const img = images.get(id)!;
      const masks = edgeConnectedFatMasks(cohortGreyToHu(img.grey), img.width, img.height);
      ours.push(masks.visceralFat.reduce((a, b) => a + b, 0));
      satCounts.push(masks.subcutaneousFat.reduce((a, b) => a + b, 0));
      recorded.push(vfa);
    }
    const r = pearson(ours, recorded);
    // Least-squares pixel area through the origin, only to express counts in cm^2 for the printout.
    const area = ours.reduce((s, v, i) => s + v * (recorded[i] as number), 0) / ours.reduce((s, v) => s + v * v, 0);
    const meanSat = satCounts.reduce((a, b) => a + b, 0) / satCounts.length;
    console.log(`    Pearson r(our VAT pixels, vfa_t11_cm2) = ${r.toFixed(3)} over ${rows.length} train images`);
    console.log(`    implied pixel area ${area.toExponential(3)} cm^2 (${(Math.sqrt(area) * 10).toFixed(3)} mm pixel); mean SAT ${meanSat.toFixed(0)} px`);
    assert.ok(r >= 0.85, `r = ${r}`);
  });

  it(`tissue-segmentation visceral fat (the fat-mask channel's method: ${COHORT_FAT_MASK_METHOD}) correlates with vfa_t11_cm2`, function () {
    const full = process.env.BONEMET_FULL_CALIBRATION === '1';
    const chosen = rows.filter((_, i) => full || i % 5 === 0);
    const ours: number[] = [];
    const recorded: number[] = [];
    for (const { id, vfa } of chosen) {
      const img = images.get(id)!;
      ours.push(cohortFatMasks(img.grey, img.width, img.height, 'segmentation').vatMask.reduce((a, b) => a + b, 0));
      recorded.push(vfa);
    }
    const r = pearson(ours, recorded);
    console.log(`    Pearson r(segmentation VAT pixels, vfa_t11_cm2) = ${r.toFixed(3)} over ${chosen.length} train images${full ? '' : ' (every 5th; BONEMET_FULL_CALIBRATION=1 for all 185)'}`);
    assert.ok(r >= 0.85, `r = ${r}`);
  });
});
