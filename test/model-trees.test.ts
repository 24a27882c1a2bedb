/**
 * The tree converter (models/tree_to_onnx.py) must reproduce sklearn exactly: python fits GBDTs on the
 * real clinical table and writes sklearn probabilities for fixed inputs (real rows, jittered rows, rows
 * sitting exactly on split thresholds); onnxruntime-node runs the converted models and we compare.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTreeEnsemble, createSession } from '../src/model/infer.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Fixture {
  feature_names: string[];
  cases: { name: string; onnx: string; inputs: number[][]; sklearn_probabilities: number[] }[];
}

describe('GBDT -> ONNX converter agrees with sklearn (onnxruntime-node)', function () {
  let dir = '';
  let fixture: Fixture;
  before(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'bonemet-trees-'));
    execFileSync('/usr/bin/python3', [path.join(repo, 'models', 'tree_to_onnx.py'), '--fixture', dir], { stdio: 'inherit' });
    fixture = JSON.parse(readFileSync(path.join(dir, 'fixture.json'), 'utf8')) as Fixture;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('probabilities match to 1e-6 on real, jittered and on-threshold rows', async function () {
    assert.equal(fixture.cases.length, 2);
    for (const c of fixture.cases) {
      const session = await createSession(readFileSync(path.join(dir, c.onnx)));
      const nFeatures = fixture.feature_names.length;
      const flat = new Float32Array(c.inputs.length * nFeatures);
      c.inputs.forEach((row, i) => flat.set(row, i * nFeatures));
      const probs = await runTreeEnsemble(session, flat, nFeatures);
      assert.equal(probs.length, c.sklearn_probabilities.length);
      let maxDiff = 0;
      for (let i = 0; i < probs.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(probs[i]! - c.sklearn_probabilities[i]!));
      }
      // Spread check: a constant model would also "agree" if sklearn were constant.
      const spread = Math.max(...c.sklearn_probabilities) - Math.min(...c.sklearn_probabilities);
      console.log(`    ${c.name}: ${probs.length} rows, max |p_onnx - p_sklearn| = ${maxDiff.toExponential(2)}, p spread ${spread.toFixed(3)}`);
      assert.ok(spread > 0.5, 'fixture probabilities should span a wide range');
      assert.ok(maxDiff <= 1e-6, `${c.name}: max diff ${maxDiff}`);
    }
  });
});
