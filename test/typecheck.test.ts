import { execFileSync } from 'node:child_process';
import { strict as assert } from 'node:assert';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// The project promises `tsc --strict` clean; checking it inside the suite makes a type error one
// failing test instead of a run that never reaches mocha's summary.
describe('typecheck', () => {
  it('tsc --noEmit reports no errors under strict settings', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    let output = '';
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    }
    assert.equal(output.trim(), '', `tsc reported errors:\n${output}`);
  });
});
