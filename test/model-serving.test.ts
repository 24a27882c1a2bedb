/**
 * Serving the risk model (src/model): runs the training recipe's smoke mode (models/train.py --smoke,
 * tiny CNN, real clinical table) into a temp dir, loads it with loadRiskModel and exercises every
 * path and every clinical validation rule. Also checks that onnxruntime-node reproduces torch's CNN
 * outputs on a deterministic input, and the published-evidence arithmetic.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { parseCsv, runCohortPredict, formatCohortCsv } from '../src/cli/cohort-predict.ts';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRiskModel, RiskInputError, type RiskModel } from '../src/model/index.ts';
import { parseClinicalRecord } from '../src/model/clinical.ts';
import { publishedEvidence, PUBLISHED_HAZARD_RATIOS } from '../src/model/published-evidence.ts';
import type { ClinicalRecord } from '../src/model/types.ts';
import type { BodyComposition } from '../src/analysis/types.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const trainCsv = path.join(repo, '..', 'shared', 'data', 'lf-dlrn-bc', 'clinical', 'train.csv');

/** Same formula as models/cnn.py reference_pattern(). */
function referencePattern(): Float32Array {
  const H = 400, W = 500, n = H * W;
  const x = new Float32Array(4 * n);
  for (let c = 0; c < 4; c++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        x[c * n + i * W + j] = c < 3 ? ((7 * c + 3 * i + j) % 17) / 17 : (i + j) % 5 === 0 ? 0.5 : -0.5;
      }
    }
  }
  return x;
}

function readTrainRows(): Record<string, string>[] {
  const [header, ...lines] = readFileSync(trainCsv, 'utf8').trim().split(/\r?\n/);
  const cols = header!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])));
}

const body: BodyComposition = {
  sfaCm2: 120, vfaCm2: 60, esmaCm2: 40, sfiCm2M2: 46.9, vfiCm2M2: 23.4, esmiCm2M2: 15.6, heightM: 1.6, heightSource: 'clinical',
};

describe('risk model serving (smoke-trained model)', function () {
  let dir = '';
  let model: RiskModel;
  let rows: Record<string, string>[];
  let record: ClinicalRecord;
  before(async function () {
    dir = mkdtempSync(path.join(tmpdir(), 'bonemet-model-'));
    execFileSync('/usr/bin/python3', [path.join(repo, 'models', 'train.py'), '--smoke', '--out', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    model = await loadRiskModel(dir);
    rows = readTrainRows();
    const parsed = parseClinicalRecord(rows[0]);
    assert.deepEqual(parsed.warnings, []);
    record = parsed.record!;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('onnxruntime-node reproduces torch outputs of the exported CNN', async function () {
    const ref = JSON.parse(readFileSync(path.join(dir, 'cnn-reference.json'), 'utf8')) as { features16: number[]; logits: number[]; activationShape: number[] };
    const r = await model.predict({ channels: referencePattern(), clinical: null, bodyComposition: null });
    assert.ok(r.cnn);
    const maxDiff = Math.max(...ref.logits.map((v, i) => Math.abs(v - r.cnn!.logits[i]!)), ...ref.features16.map((v, i) => Math.abs(v - r.cnn!.features16[i]!)));
    console.log(`    CNN torch vs ORT max |diff| (logits, features16) = ${maxDiff.toExponential(2)}; activation ${r.cnn.activation.channels}x${r.cnn.activation.height}x${r.cnn.activation.width}`);
    assert.ok(maxDiff < 1e-4);
    assert.deepEqual([r.cnn.activation.channels, r.cnn.activation.height, r.cnn.activation.width], ref.activationShape);
    assert.equal(r.inputsUsed, 'imaging-only');
    assert.equal(r.pClinical, null);
    // Grad-CAM heatmap on the input grid, 0..1, and a PNG overlay.
    assert.ok(r.heatmap && r.heatmap.width === 500 && r.heatmap.height === 400 && r.heatmap.values.length === 200000);
    assert.ok(r.heatmap.values.every((v) => v >= 0 && v <= 1));
    assert.deepEqual(Array.from(r.heatmapPng!.subarray(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
    assert.ok(r.warnings.some((w) => w.includes('no clinical data')));
  });

  it('uses the clinical-only path without an image, and the combined path with both', async function () {
    const c = await model.predict({ clinical: record, bodyComposition: null });
    assert.equal(c.inputsUsed, 'clinical-only');
    assert.ok(c.probability > 0 && c.probability < 1);
    assert.equal(c.highRisk, c.probability >= c.threshold);
    assert.equal(c.researchUseOnly, true);
    const b = await model.predict({ channels: referencePattern(), clinical: record, bodyComposition: body });
    assert.equal(b.inputsUsed, 'imaging+clinical');
    assert.ok(b.pImage !== null && b.pClinical !== null && b.pCombined !== null);
    assert.equal(b.probability, b.pCombined);
    assert.equal(b.pClinical, c.pClinical);
  });

  it('gives different clinical probabilities for different real patients', async function () {
    const ps = new Set<number>();
    for (const row of rows.slice(0, 40)) {
      const r = await model.predict({ clinical: parseClinicalRecord(row).record, bodyComposition: null });
      ps.add(Math.round(r.probability * 1e6));
    }
    assert.ok(ps.size > 3, `only ${ps.size} distinct probabilities`);
  });

  it('turns unknown codes and implausible numbers into warned, imputed missing values', async function () {
    const bad: ClinicalRecord = { ...record, molecular_subtype: 9, age: 250 };
    const r = await model.predict({ clinical: bad, bodyComposition: null });
    assert.equal(r.inputsUsed, 'clinical-only');
    assert.ok(r.warnings.some((w) => w.includes('molecular_subtype = 9') && w.includes('missing')), r.warnings.join('|'));
    assert.ok(r.warnings.some((w) => w.includes('age = 250') && w.includes('plausible')));
    assert.ok(r.warnings.some((w) => w.includes('imputed with the training median: age, molecular_subtype')));
  });

  it('falls back to imaging-only when too many clinical inputs are missing, and refuses when nothing is usable', async function () {
    const sparse: ClinicalRecord = { age: 50, er: 1 };
    const r = await model.predict({ channels: referencePattern(), clinical: sparse, bodyComposition: null });
    assert.equal(r.inputsUsed, 'imaging-only');
    assert.equal(r.pClinical, null);
    // Grad-CAM heatmap on the input grid, 0..1, and a PNG overlay.
    assert.ok(r.heatmap && r.heatmap.width === 500 && r.heatmap.height === 400 && r.heatmap.values.length === 200000);
    assert.ok(r.heatmap.values.every((v) => v >= 0 && v <= 1));
    assert.deepEqual(Array.from(r.heatmapPng!.subarray(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
    assert.ok(r.warnings.some((w) => w.startsWith('clinical model not used')));
    await assert.rejects(model.predict({ clinical: sparse, bodyComposition: null }), RiskInputError);
    await assert.rejects(model.predict({ clinical: null, bodyComposition: null }), RiskInputError);
    await assert.rejects(model.predict({ channels: new Float32Array(10), clinical: null, bodyComposition: null }), /expected 4x400x500/);
    const withNaN = referencePattern();
    withNaN[12345] = Number.NaN;
    await assert.rejects(model.predict({ channels: withNaN, clinical: record, bodyComposition: null }), /non-finite value at index 12345/);
  });

  it('repairs PMI/T4 equal to PMA/T4 (the source table artefact) with a warning; takes VFA from the measurement when used', async function () {
    const { vfa_t11_cm2: _vfa, ...noVfa } = record;
    const r = await model.predict({ clinical: { ...noVfa, pmi_t4_cm2_m2: record.pma_t4_cm2 }, bodyComposition: body });
    assert.ok(r.warnings.some((w) => w.includes('pmi_t4_cm2_m2 is inconsistent')), r.warnings.join('|'));
    // VFA from the service's own measurement only matters when the shipped features include it.
    assert.equal(r.warnings.some((w) => w.includes('vfa_t11_cm2 taken from')), model.manifest.clinical.features.includes('vfa_t11_cm2'));
  });

  it('cohort-predict: one row per T11 image, bad images and bad clinical rows become warnings', async function () {
    const cohort = path.join(dir, 'cohort');
    const valDir = path.join(repo, '..', 'shared', 'data', 'lf-dlrn-bc', 'images', 't11', 'val');
    mkdirSync(path.join(cohort, 't11', 'a', 'b'), { recursive: true });
    copyFileSync(path.join(valDir, '1.jpg'), path.join(cohort, 't11', 'a', '1.jpg')); // temp copy, test only
    copyFileSync(path.join(valDir, '10.jpg'), path.join(cohort, 't11', 'a', 'b', '10.jpg'));
    writeFileSync(path.join(cohort, 't11', '20.jpg'), Buffer.from('not a jpeg at all'));
    const small = jpeg.encode({ data: Buffer.alloc(64 * 48 * 4, 128), width: 64, height: 48 }, 90).data;
    writeFileSync(path.join(cohort, 't11', '30.jpg'), small);
    const src = rows[0]!;
    const cols = Object.keys(src);
    const line = (r: Record<string, string>): string => cols.map((c) => r[c] ?? '').join(',');
    const csv = [cols.join(','),
      line({ ...src, id: '1' }),
      line({ ...src, id: '10', molecular_subtype: '7', age: 'old' }),
      line({ ...src, id: '30' }), line({ ...src, id: '30' }),
      line({ ...src, id: '' })].join('\n');
    writeFileSync(path.join(cohort, 'clinical.csv'), csv);
    const { rows: out, problems } = await runCohortPredict(model, cohort, path.join(cohort, 'clinical.csv'));
    assert.deepEqual(out.map((r) => r.id), ['1', '10', '20', '30']);
    const [r1, r10, r20, r30] = out as [typeof out[0], typeof out[0], typeof out[0], typeof out[0]];
    assert.ok(r1.pImage !== null && r1.pClinical !== null && r1.pCombined !== null);
    assert.ok(r10.pImage !== null && r10.pClinical !== null, r10.warnings.join('|'));
    assert.ok(r10.warnings.some((w) => w.includes('"age" is not a number')) && r10.warnings.some((w) => w.includes('molecular_subtype = 7')));
    assert.equal(r20.pImage, null);
    assert.ok(r20.warnings.some((w) => w.includes('image not usable: not a JPEG')));
    assert.ok(r20.warnings.some((w) => w.includes('no clinical row')));
    assert.ok(r20.warnings.some((w) => w.startsWith('no prediction')));
    assert.equal(r30.pImage, null);
    assert.ok(r30.warnings.some((w) => w.includes('64x48')));
    assert.ok(r30.warnings.some((w) => w.includes('no clinical row'))); // duplicated rows are not used
    assert.ok(problems.some((p) => p.includes('more than one row for id 30')));
    assert.ok(problems.some((p) => p.includes('has no id')));
    const written = parseCsv(formatCohortCsv(out));
    assert.deepEqual(Object.keys(written[0]!), ['id', 'p_image', 'p_clinical', 'p_combined', 'warnings']);
    assert.equal(written[2]!['p_image'], '');
    console.log(`    cohort-predict rows: ${out.map((r) => `${r.id}: img ${r.pImage?.toFixed(3) ?? '-'} clin ${r.pClinical?.toFixed(3) ?? '-'} (${r.warnings.length} warnings)`).join('; ')}`);
  });

  it('parses untrusted clinical JSON with named problems', function () {
    const p = parseClinicalRecord({ age: '51', cea: 'high', shoeSize: 38, id: 7 });
    assert.deepEqual(p.record, { age: 51 });
    assert.ok(p.warnings.some((w) => w.includes('"cea" is not a number')));
    assert.ok(p.warnings.some((w) => w.includes('"shoeSize" is not known')));
    assert.equal(parseClinicalRecord([1, 2]).record, null);
  });
});

describe('published evidence (paper Cox HRs)', function () {
  const ref = PUBLISHED_HAZARD_RATIOS;
  const refClinical: ClinicalRecord = { lvi: 0, ki67: 10, histologic_type: 0, cea: ref.cea.reference, bmi: ref.bmi.reference };
  const refBody: BodyComposition = { ...body, sfaCm2: ref.sfa.reference, sfiCm2M2: ref.sfi.reference };
  it('is 1 at the reference profile and follows HR^(x - ref)', function () {
    const e = publishedEvidence(refClinical, refBody);
    assert.ok(Math.abs(e.relativeHazard! - 1) < 1e-12);
    assert.equal(e.sfiCategory, 'at-or-above-cutoff');
    assert.match(e.label, /[Pp]ublished/);
    const high = publishedEvidence({ ...refClinical, lvi: 1, ki67: 30 }, { ...refBody, sfiCm2M2: 20 });
    const expected = 2.544 * 2.045 * 0.875 ** (20 - 27.7);
    assert.ok(Math.abs(high.relativeHazard! - expected) < 1e-9);
    assert.equal(high.sfiCategory, 'below-cutoff');
  });
  it('lists missing inputs and gives no hazard without them', function () {
    const e = publishedEvidence(null, null);
    assert.equal(e.relativeHazard, null);
    assert.equal(e.sfiCategory, null);
    assert.deepEqual(e.missingInputs.sort(), ['bmi', 'cea', 'ductal', 'ki67_ge_20', 'lvi', 'sfa', 'sfi']);
  });
});

describe('shipped model (models/shipped)', function () {
  const shipped = path.join(repo, 'models', 'shipped');
  it('loads, reproduces the training run\'s torch outputs, and has a model card and thresholds', async function () {
    const m = await loadRiskModel(shipped);
    const ref = JSON.parse(readFileSync(path.join(shipped, 'cnn-reference.json'), 'utf8')) as { features16: number[]; logits: number[] };
    const r = await m.predict({ channels: referencePattern(), clinical: null, bodyComposition: null });
    const maxDiff = Math.max(...ref.logits.map((v, i) => Math.abs(v - r.cnn!.logits[i]!)), ...ref.features16.map((v, i) => Math.abs(v - r.cnn!.features16[i]!)));
    const report = JSON.parse(readFileSync(path.join(shipped, 'cv-report.json'), 'utf8')) as {
      cv: Record<string, { auc: number; ci95: [number, number] }>; val: { image: { auc: number; ci95: [number, number] } };
    };
    const f = (x: { auc: number; ci95: [number, number] }): string => `${x.auc.toFixed(3)} [${x.ci95[0].toFixed(3)}, ${x.ci95[1].toFixed(3)}]`;
    console.log(`    shipped ${m.manifest.modelName} ${m.manifest.modelVersion}: torch vs ORT max |diff| ${maxDiff.toExponential(2)}`);
    console.log(`    CV AUC clinical ${f(report.cv['clinical']!)}, image ${f(report.cv['image']!)}, combined ${f(report.cv['combined']!)}; val image ${f(report.val.image)}`);
    assert.ok(maxDiff < 1e-4);
    assert.ok(m.manifest.image && m.manifest.combined);
    for (const t of [m.manifest.clinical.threshold, m.manifest.image.threshold, m.manifest.combined.threshold]) assert.ok(t > 0 && t < 1);
    assert.match(readFileSync(path.join(repo, 'models', 'MODEL_CARD.md'), 'utf8'), /Research use only/);
  });
});
