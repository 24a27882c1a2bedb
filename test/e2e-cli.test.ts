import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './e2e-helpers.ts';

describe('e2e: bonemet CLI configuration', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('config --print-defaults prints the full typed default config', async () => {
    const r = await runCli(['config', '--print-defaults']);
    assert.equal(r.code, 0, r.stderr);
    const cfg = JSON.parse(r.stdout) as { dimse: { aeTitle: string; port: number }; http: { port: number }; destinations: Record<string, unknown>; series: { quietPeriodSeconds: number } };
    assert.equal(cfg.dimse.aeTitle, 'BONEMET');
    assert.equal(cfg.dimse.port, 11112);
    assert.equal(cfg.http.port, 8080);
    assert.equal(cfg.destinations.pacsDimse, null);
    assert.equal(cfg.destinations.ehrMllp, null);
    assert.equal(typeof cfg.series.quietPeriodSeconds, 'number');
  });

  it('a bad config is a clear error naming the key, exit code != 0', async () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ dimse: { port: 'eleven' }, destinations: { ehrMllp: { host: 'ehr' } }, colour: 'blue' }));
    for (const cmd of [['config', '--config', file], ['serve', '--config', file, '--data-dir', path.join(dir, 'data')]]) {
      const r = await runCli(cmd);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /config error: dimse\.port: expected number/);
      assert.match(r.stderr, /config error: destinations\.ehrMllp\.port: expected number/);
      assert.match(r.stderr, /config error: colour: unknown key/);
      assert.ok(!fs.existsSync(path.join(dir, 'data', 'bonemet.sqlite')), 'serve must not start with a bad config');
    }
  });

  it('not JSON, missing file and a bad --http-port are named too', async () => {
    const file = path.join(dir, 'broken.json');
    fs.writeFileSync(file, '{ "dimse": ');
    let r = await runCli(['config', '--config', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /config error: .*broken\.json is not valid JSON/);
    r = await runCli(['config', '--config', path.join(dir, 'nope.json')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /config error: cannot read .*nope\.json: ENOENT/);
    r = await runCli(['config', '--http-port', '99999']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /config error: http\.port/);
  });

  it('overrides win over the file; relative dataDir resolves against the file', async () => {
    const file = path.join(dir, 'ok.json');
    fs.writeFileSync(file, JSON.stringify({ dataDir: 'rel-data', http: { port: 9000 } }));
    let r = await runCli(['config', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { dataDir: string }).dataDir, path.join(dir, 'rel-data'));
    r = await runCli(['config', '--config', file, '--http-port', '9100', '--dimse-port', '11200']);
    const cfg = JSON.parse(r.stdout) as { http: { port: number }; dimse: { port: number } };
    assert.equal(cfg.http.port, 9100);
    assert.equal(cfg.dimse.port, 11200);
  });
});
