import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PNG } from 'pngjs';
import { readSliceHeader } from '../src/analysis/decode.ts';
import { readArrayBuffer, ROOT, seriesFiles, tempDir } from './helpers/ct-data.ts';

/** Runs the analyze command in a child process through commander, as `bonemet analyze` does. */
function runCli(args: string[]) {
  const script = [
    "import { Command } from 'commander';",
    `import { registerAnalyzeCommand } from ${JSON.stringify(path.join(ROOT, 'src/cli/analyze.ts'))};`,
    "const program = new Command('bonemet');",
    'registerAnalyzeCommand(program);',
    'await program.parseAsync(process.argv);',
  ].join('\n');
  // Evaluated with cwd = project root, so 'commander' resolves from the project's node_modules.
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'bonemet', 'analyze', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
}

describe('bonemet analyze (CLI)', () => {
  it('--json prints exactly one JSON document on stdout (J2K series with empty UIDs, T11 not assessable)', () => {
    const dir = path.dirname(seriesFiles('j2k-ct')[0]!);
    const r = runCli([dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.assessable, false);
    assert.equal(typeof doc.reason, 'string');
    assert.equal(doc.bodyComposition, null);
    assert.equal(doc.series.slices, 20);
  });

  it('measures at --at-slice with --height-cm, writes QA PNG and masks, skips non-DICOM files', () => {
    const src = path.dirname(seriesFiles('totalseg-abdomen')[0]!);
    const out = tempDir('cli-out');
    try {
      // a non-DICOM file next to the series: a directory as a PACS export might contain
      const withJunk = tempDir('cli-in');
      for (const f of fs.readdirSync(src)) fs.symlinkSync(path.join(src, f), path.join(withJunk, f));
      fs.writeFileSync(path.join(withJunk, 'README.txt'), 'export notes');
      // Any slice of the series (here InstanceNumber 15) as the override; independent of the level finder.
      const uid = readSliceHeader(readArrayBuffer(path.join(src, 'IM0015.dcm'))).sopInstanceUID;
      const r = runCli([withJunk, '--json', '--height-cm', '165', '--at-slice', uid, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.assessable, true);
      assert.equal(doc.measuredSlice.source, 'override');
      assert.ok(doc.bodyComposition.sfaCm2 > 0);
      assert.equal(doc.bodyComposition.sfiCm2M2, Math.round((doc.bodyComposition.sfaCm2 / 1.65 ** 2) * 100) / 100);
      assert.ok(doc.warnings.some((w: string) => /skipped non-DICOM file README\.txt/.test(w)));
      const qa = PNG.sync.read(fs.readFileSync(path.join(out, 'qa.png')));
      assert.ok(qa.width > 200 && qa.height > 100);
      const sat = PNG.sync.read(fs.readFileSync(path.join(out, 'mask-subcutaneous-fat.png')));
      assert.equal(sat.width, 122);
      fs.rmSync(withJunk, { recursive: true, force: true });
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses bad arguments with exit code 2 and a message naming the problem', () => {
    const dir = path.dirname(seriesFiles('totalseg-abdomen')[0]!);
    const r = runCli([dir, '--height-cm', '16']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--height-cm must be a number between 100 and 230/);
    const r2 = runCli(['/nonexistent-dir']);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /not a directory/);
  });
});
