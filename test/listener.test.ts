import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { configSchema, type BonemetConfig } from '../src/config/schema.ts';
import type { StoredInstance } from '../src/jobs/ingest-sink.ts';
import { startDimseListener, type DimseListener } from '../src/listener/dimse-scp.ts';
import { createStowRouter } from '../src/listener/stow.ts';
import { validateInstance } from '../src/listener/validate-instance.ts';
import { echoscu, storescu } from './peers/index.ts';
import { seriesFiles } from './helpers/ct-data.ts';
import { writeSyntheticInstance } from './helpers/synthetic-dicom.ts';


const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

/** Bad inputs made fresh in a temp dir (never written next to the shared data). */
function makeBadInputs(dir: string): Record<'mr' | 'sr' | 'noStudyUids' | 'truncated' | 'notDicom' | 'ctLabelledMr', string> {
  writeSyntheticInstance(path.join(dir, 'mr.dcm'), '1.2.840.10008.5.1.4.1.1.4', 'MR', `
ds.Rows = 8; ds.Columns = 8; ds.BitsAllocated = 16; ds.BitsStored = 12; ds.HighBit = 11; ds.PixelRepresentation = 0
ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'; ds.PixelData = np.zeros((8, 8), np.uint16).tobytes()`);
  writeSyntheticInstance(path.join(dir, 'sr.dcm'), '1.2.840.10008.5.1.4.1.1.88.11', 'SR', "ds.ValueType = 'CONTAINER'");
  // j2k-ct/dicom has every UID empty, so storescu cannot even pick a presentation context for it.
  // Repair only the SOP class/instance (as dcmodify would) and leave Study/Series UIDs empty: that
  // file reaches our SCP and must be refused for the empty UIDs.
  const noStudyUids = path.join(dir, 'no-study-uids.dcm');
  const source = seriesFiles('j2k-ct')[0] as string;
  fs.copyFileSync(source, noStudyUids);
  const metaUid = /\[([0-9.]+)\]/.exec(execFileSync('dcmdump', ['-s', '+P', '0002,0003', source], { encoding: 'utf8' }))?.[1];
  assert.ok(metaUid, 'could not read MediaStorageSOPInstanceUID');
  execFileSync('dcmodify', ['-nb', '-m', `(0008,0016)=${CT_IMAGE_STORAGE}`, '-m', `(0008,0018)=${metaUid}`, noStudyUids]);
  const truncated = path.join(dir, 'truncated.dcm');
  const whole = fs.readFileSync(seriesFiles('chest-ct-1')[9] as string);
  fs.writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const notDicom = path.join(dir, 'not-dicom.bin');
  fs.writeFileSync(notDicom, Buffer.from('this is a PDF report, not a DICOM instance\n'.repeat(20)));
  // CT Image Storage object whose Modality says MR: contradicts its own SOP class.
  const ctLabelledMr = path.join(dir, 'ct-labelled-mr.dcm');
  fs.copyFileSync(seriesFiles('chest-ct-1')[20] as string, ctLabelledMr);
  execFileSync('dcmodify', ['-nb', '-m', '(0008,0060)=MR', ctLabelledMr]);
  return { mr: path.join(dir, 'mr.dcm'), sr: path.join(dir, 'sr.dcm'), noStudyUids, truncated, notDicom, ctLabelledMr };
}

interface Part {
  contentType?: string;
  bytes: Uint8Array;
}

function multipartRelated(parts: Part[], boundary = `bonemet-test-${Date.now()}`): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n${part.contentType === undefined ? '' : `Content-Type: ${part.contentType}\r\n`}\r\n`));
    chunks.push(Buffer.from(part.bytes));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

interface StowAnswer {
  status: number;
  json: Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> }>;
  referenced: string[];
  failed: Array<{ sopInstanceUID: string; reason: number; text: string }>;
}

async function stow(url: string, body: Buffer, contentType: string): Promise<StowAnswer> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
  const text = await res.text();
  let json: StowAnswer['json'] = {};
  try {
    json = JSON.parse(text) as StowAnswer['json'];
  } catch {
    // non-JSON error body
  }
  const referenced = (json['00081199']?.Value ?? []).map((item) => String(item['00081155']?.Value?.[0] ?? ''));
  const failed = (json['00081198']?.Value ?? []).map((item) => ({
    sopInstanceUID: String(item['00081155']?.Value?.[0] ?? ''),
    reason: Number(item['00081197']?.Value?.[0]),
    text: String(item['0040A160']?.Value?.[0] ?? ''),
  }));
  return { status: res.status, json, referenced, failed };
}

function countSpoolFiles(dataDir: string): number {
  const root = path.join(dataDir, 'spool');
  let n = 0;
  for (const study of fs.readdirSync(root)) {
    if (study.startsWith('.')) continue;
    for (const series of fs.readdirSync(path.join(root, study))) n += fs.readdirSync(path.join(root, study, series)).length;
  }
  return n;
}

describe('listener: C-STORE SCP + STOW-RS against real dcmtk peers', function () {
  let dataDir: string;
  let tmpDir: string;
  let config: BonemetConfig;
  let listener: DimseListener;
  let httpServer: http.Server;
  let stowUrl: string;
  let bad: ReturnType<typeof makeBadInputs>;
  const received: StoredInstance[] = [];
  const sink = { instanceStored: (i: StoredInstance) => void received.push(i) };
  const logger = pino({ level: process.env.BONEMET_TEST_LOG ?? 'silent' });

  const scp = (callingAet = 'STORESCU') => ({ host: '127.0.0.1', port: listener.port, aet: 'BONEMET', callingAet });

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-listener-'));
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-bad-'));
    bad = makeBadInputs(tmpDir);
    config = configSchema.parse({
      dataDir,
      dimse: { port: 0, aeTitle: 'BONEMET', allowedCallingAeTitles: ['STORESCU', 'ECHOSCU'] },
      http: { maxStowBytes: 60 * 1024 * 1024 },
    });
    listener = await startDimseListener(config, sink, logger);
    const app = express();
    app.use('/dicomweb', createStowRouter({ config, sink, logger }));
    httpServer = http.createServer(app);
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    stowUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/dicomweb/studies`;
  });

  after(async () => {
    await listener?.close();
    await new Promise((resolve) => httpServer?.close(resolve));
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(tmpDir, { recursive: true, force: true });
  });

  it('answers C-ECHO', async () => {
    const echo = await echoscu(scp('ECHOSCU'));
    assert.equal(echo.code, 0, echo.output);
  });

  it('stores all 255 chest-ct-1 instances sent by storescu -xs (JPEG lossless), pixel data byte-identical', async () => {
    const files = seriesFiles('chest-ct-1');
    const before = received.length;
    const result = await storescu(files, { ...scp(), extraArgs: ['-xs'] });
    assert.equal(result.code, 0, result.output.slice(-2000));
    const fresh = received.slice(before);
    assert.equal(fresh.length, 255, 'sink called once per instance');
    assert.equal(new Set(fresh.map((i) => i.sopInstanceUID)).size, 255);
    assert.ok(fresh.every((i) => i.receivedVia === 'dimse' && i.callingAeTitle === 'STORESCU' && i.modality === 'CT'));
    assert.equal(new Set(fresh.map((i) => i.seriesInstanceUID)).size, 1);
    for (const i of fresh) assert.ok(fs.existsSync(i.path), `spool file missing: ${i.path}`);
    assert.equal(countSpoolFiles(dataDir), 255);
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'spool/.incoming')), [], 'no leftovers in .incoming');
    // The compressed pixel data must be the sender's bytes exactly (no transcoding anywhere). storescu
    // re-serialises the header, so compare from the Pixel Data element (7FE0,0010) OB on.
    const original = fs.readFileSync(files[0] as string);
    const sopUid = validateInstance(original);
    assert.ok(sopUid.ok);
    const spooled = fs.readFileSync(fresh.find((i) => i.sopInstanceUID === sopUid.sopInstanceUID)?.path as string);
    const pixelTag = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42]);
    const pixelsOf = (b: Buffer): Buffer => b.subarray(b.indexOf(pixelTag));
    assert.ok(pixelsOf(original).length > 100_000);
    assert.ok(pixelsOf(spooled).equals(pixelsOf(original)), 'pixel data bytes differ from the sent file');
    const verdict = validateInstance(spooled);
    assert.ok(verdict.ok && verdict.transferSyntaxUID === '1.2.840.10008.1.2.4.70', 'kept JPEG Lossless SV1');
    console.log(`      stored ${fresh.length}/255 via C-STORE, spool files ${countSpoolFiles(dataDir)}`);
  });

  it('accepts the repaired JPEG 2000 series (j2k-ct/dicom_fixed) with storescu -xv', async () => {
    const before = received.length;
    const result = await storescu(seriesFiles('j2k-ct', 'dicom_fixed'), { ...scp(), extraArgs: ['-xv'] });
    assert.equal(result.code, 0, result.output.slice(-2000));
    const fresh = received.slice(before);
    assert.equal(fresh.length, 20);
    const verdict = validateInstance(fs.readFileSync(fresh[0]?.path as string));
    assert.ok(verdict.ok && verdict.transferSyntaxUID === '1.2.840.10008.1.2.4.90', 'kept JPEG 2000 lossless');
  });

  it('stores CT as Deflated (-xd), Implicit VR LE (-xi), JPEG-LS (-xt) and RLE (-xr), in the accepted syntax', async () => {
    // JPEG-LS and RLE copies made with dcmtk in the temp dir (storescu sends compressed files as they are).
    const encoded = (tool: string, args: string[], src: string, name: string): string => {
      const out = path.join(tmpDir, name);
      execFileSync(tool, [...args, src, out]);
      return out;
    };
    const source = seriesFiles('totalseg-abdomen');
    const cases: Array<[string, string, string[]]> = [
      ['-xd', '1.2.840.10008.1.2.1.99', source.slice(0, 2)],
      ['-xi', '1.2.840.10008.1.2', source.slice(2, 4)],
      ['-xt', '1.2.840.10008.1.2.4.80', [encoded('dcmcjpls', [], source[4] as string, 'jls-1.dcm'), encoded('dcmcjpls', [], source[5] as string, 'jls-2.dcm')]],
      ['-xr', '1.2.840.10008.1.2.5', [encoded('dcmcrle', [], source[6] as string, 'rle-1.dcm'), encoded('dcmcrle', [], source[7] as string, 'rle-2.dcm')]],
    ];
    for (const [flag, ts, files] of cases) {
      const before = received.length;
      const result = await storescu(files, { ...scp(), extraArgs: [flag] });
      assert.equal(result.code, 0, `${flag}: ${result.output.slice(-1000)}`);
      const fresh = received.slice(before);
      assert.equal(fresh.length, 2, flag);
      const verdict = validateInstance(fs.readFileSync(fresh[0]?.path as string));
      assert.ok(verdict.ok && verdict.transferSyntaxUID === ts, `${flag}: ${JSON.stringify(verdict)}`);
    }
  });

  it('streams a 32 MB instance to disk (many PDUs, socket backpressure) and keeps it bit-exact', async () => {
    const big = path.join(tmpDir, 'big-ct.dcm');
    writeSyntheticInstance(big, CT_IMAGE_STORAGE, 'CT', `
ds.Rows = 4096; ds.Columns = 4096; ds.BitsAllocated = 16; ds.BitsStored = 16; ds.HighBit = 15; ds.PixelRepresentation = 1
ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'; ds.RescaleIntercept = 0; ds.RescaleSlope = 1
ds.PixelData = (np.arange(4096 * 4096, dtype=np.int64) * 2654435761 % 65536 - 32768).astype(np.int16).tobytes()`);
    const before = received.length;
    const rssBefore = process.memoryUsage().rss;
    const result = await storescu([big], scp());
    const rssAfter = process.memoryUsage().rss;
    assert.equal(result.code, 0, result.output.slice(-1500));
    assert.equal(received.length, before + 1);
    const original = fs.readFileSync(big);
    const spooled = fs.readFileSync(received[before]?.path as string);
    const pixelTag = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57]); // (7FE0,0010) OW
    const tail = (b: Buffer): Buffer => b.subarray(b.indexOf(pixelTag));
    assert.equal(tail(spooled).length, 4096 * 4096 * 2 + 12);
    assert.ok(tail(spooled).equals(tail(original)), 'pixel data differs');
    console.log(`      32 MB instance: RSS before ${(rssBefore / 1e6).toFixed(0)} MB, after ${(rssAfter / 1e6).toFixed(0)} MB (informational: the listener streams and validates from disk)`);
  });

  it('a C-STORE cut off mid-data-set (sender killed) leaves nothing behind and is never acknowledged', async () => {
    const big = path.join(tmpDir, 'big-ct.dcm'); // made by the previous test
    assert.ok(fs.existsSync(big));
    const before = received.length;
    const incoming = path.join(dataDir, 'spool/.incoming');
    const sender = spawn('storescu', ['-aet', 'STORESCU', '-aec', 'BONEMET', '127.0.0.1', String(listener.port), big], { stdio: 'ignore' });
    const partialSize = (): number =>
      fs.readdirSync(incoming).reduce((n, f) => n + (fs.statSync(path.join(incoming, f), { throwIfNoEntry: false })?.size ?? 0), 0);
    const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cond(), `timed out waiting for: ${what}`);
    };
    // Kill the sender once part of the data set is on our disk: a real transfer broken mid-way.
    await waitFor(() => partialSize() > 200_000, 'a partial data set in .incoming');
    sender.kill('SIGKILL');
    await waitFor(() => fs.readdirSync(incoming).length === 0, '.incoming to be cleaned up');
    assert.equal(received.length, before, 'a partial instance must not reach the job layer');
    assert.equal((await echoscu(scp('ECHOSCU'))).code, 0, 'service still answers');
  });

  it('refuses instances with empty Study/Series UIDs with 0xA900 naming the attribute, and keeps serving', async () => {
    const before = received.length;
    const result = await storescu([bad.noStudyUids], { ...scp(), extraArgs: ['-xv', '-d'] });
    assert.match(result.output, /DIMSE Status\s*:\s*0xa900/i, result.output.slice(-1500));
    assert.match(result.output, /0000,0902.*StudyInstanceUID \(0020,000D\) is empty/);
    assert.equal(received.length, before, 'sink must not be called');
    // The untouched files (all UIDs empty) cannot even be offered by storescu: it finds no SOP class.
    const original = await storescu(seriesFiles('j2k-ct').slice(0, 1), { ...scp(), extraArgs: ['-xv'] });
    assert.notEqual(original.code, 0);
    assert.equal(received.length, before);
    const echo = await echoscu(scp('ECHOSCU'));
    assert.equal(echo.code, 0, 'service still answers after refusals');
  });

  it('refuses MR and SR instances with 0x0122 (SOP class not supported)', async () => {
    const before = received.length;
    for (const file of [bad.mr, bad.sr]) {
      const result = await storescu([file], { ...scp(), extraArgs: ['-d'] });
      assert.match(result.output, /DIMSE Status\s*:\s*0x0122: Refused: SOP Class not supported/i, result.output.slice(-1500));
      assert.match(result.output, /0000,0902.*not supported: CT only/);
    }
    assert.equal(received.length, before);
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'spool/.incoming')), []);
  });

  it('rejects an association from a calling AE title not on the allow-list', async () => {
    const result = await echoscu(scp('INTRUDER'));
    assert.notEqual(result.code, 0);
    assert.match(result.output, /Association Rejected/);
    assert.match(result.output, /Calling AE Title Not Recognized/);
    const store = await storescu([seriesFiles('chest-ct-1')[0] as string], { ...scp('INTRUDER'), extraArgs: ['-xs'] });
    assert.notEqual(store.code, 0);
    assert.equal((await echoscu(scp('ECHOSCU'))).code, 0);
  });

  it('survives garbage on the DICOM port (an HTTP request, random bytes) and keeps serving', async () => {
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))]) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(listener.port, '127.0.0.1', () => socket.end(junk));
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
        setTimeout(() => socket.destroy(), 3000);
      });
    }
    assert.equal((await echoscu(scp('ECHOSCU'))).code, 0, 'service still answers');
  });

  it('rejects an association addressed to another called AE title', async () => {
    const result = await echoscu({ ...scp('ECHOSCU'), aet: 'NOTBONEMET' });
    assert.notEqual(result.code, 0);
    assert.match(result.output, /Called AE Title Not Recognized/);
  });

  it('a duplicate instance is harmless (C-STORE twice, STOW once more): success each time, one spool file', async () => {
    const file = seriesFiles('chest-ct-1')[5] as string;
    const spoolBefore = countSpoolFiles(dataDir);
    const first = await storescu([file], { ...scp(), extraArgs: ['-xs'] });
    const second = await storescu([file], { ...scp(), extraArgs: ['-xs'] });
    assert.equal(first.code, 0);
    assert.equal(second.code, 0);
    const { body, contentType } = multipartRelated([{ contentType: 'application/dicom', bytes: fs.readFileSync(file) }]);
    const answer = await stow(stowUrl, body, contentType);
    assert.equal(answer.status, 200);
    assert.equal(countSpoolFiles(dataDir), spoolBefore, 'still one file per SOP instance');
  });

  it('recreates the series and .incoming directories when removed under the running service', async () => {
    const file = seriesFiles('chest-ct-1')[7] as string;
    const stored = received.find((i) => i.sopInstanceUID === (validateInstance(fs.readFileSync(file)) as { sopInstanceUID: string }).sopInstanceUID);
    assert.ok(stored, 'stored by an earlier test');
    fs.rmSync(path.dirname(stored.path), { recursive: true, force: true });
    fs.rmSync(path.join(dataDir, 'spool/.incoming'), { recursive: true, force: true });
    const result = await storescu([file], { ...scp(), extraArgs: ['-xs'] });
    assert.equal(result.code, 0, result.output.slice(-1000));
    assert.ok(fs.existsSync(stored.path));
  });

  it('stores the same series via STOW-RS: 200 with all 255 in ReferencedSOPSequence', async () => {
    const files = seriesFiles('chest-ct-1');
    const before = received.length;
    const { body, contentType } = multipartRelated(files.map((f) => ({ contentType: 'application/dicom', bytes: fs.readFileSync(f) })));
    const answer = await stow(stowUrl, body, contentType);
    assert.equal(answer.status, 200, JSON.stringify(answer.failed.slice(0, 3)));
    assert.equal(answer.referenced.length, 255);
    assert.equal(answer.failed.length, 0);
    const fresh = received.slice(before);
    assert.equal(fresh.length, 255);
    assert.ok(fresh.every((i) => i.receivedVia === 'stow' && i.callingAeTitle === null));
    console.log(`      STOW-RS: ${answer.referenced.length}/255 referenced, HTTP ${answer.status}, body ${(body.length / 1e6).toFixed(1)} MB`);
  });

  it('STOW-RS: each bad part fails with its own FailureReason and text; all failed -> 409', async () => {
    const j2kOriginal = seriesFiles('j2k-ct')[0] as string;
    const cases: Array<{ file: string; reason: number; text: RegExp }> = [
      { file: bad.notDicom, reason: 0xc000, text: /not a DICOM Part 10 file/ },
      { file: bad.truncated, reason: 0xc001, text: /cut off/ },
      { file: j2kOriginal, reason: 0xa900, text: /SOPClassUID \(0008,0016\) is empty/ },
      { file: bad.noStudyUids, reason: 0xa900, text: /StudyInstanceUID \(0020,000D\) is empty/ },
      { file: bad.mr, reason: 0x0122, text: /not supported: CT only/ },
      { file: bad.sr, reason: 0x0122, text: /not supported: CT only/ },
      { file: bad.ctLabelledMr, reason: 0xa900, text: /Modality is 'MR' in a CT image object/ },
    ];
    const before = received.length;
    for (const c of cases) {
      const { body, contentType } = multipartRelated([{ contentType: 'application/dicom', bytes: fs.readFileSync(c.file) }]);
      const answer = await stow(stowUrl, body, contentType);
      assert.equal(answer.status, 409, `${path.basename(c.file)}: ${JSON.stringify(answer.json)}`);
      assert.equal(answer.failed.length, 1);
      assert.equal(answer.failed[0]?.reason, c.reason, `${path.basename(c.file)}: reason 0x${answer.failed[0]?.reason.toString(16)}`);
      assert.match(answer.failed[0]?.text ?? '', c.text);
    }
    assert.equal(received.length, before, 'nothing bad reached the job layer');
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'spool/.incoming')), []);
  });

  it('STOW-RS: mixed good and bad parts -> 202 with both sequences', async () => {
    const good = seriesFiles('j2k-ct', 'dicom_fixed').slice(0, 2);
    const { body, contentType } = multipartRelated([
      { contentType: 'application/dicom', bytes: fs.readFileSync(good[0] as string) },
      { contentType: 'application/dicom', bytes: fs.readFileSync(bad.truncated) },
      { bytes: fs.readFileSync(good[1] as string) }, // no part Content-Type: inherits type="application/dicom"
    ]);
    const answer = await stow(stowUrl, body, contentType);
    assert.equal(answer.status, 202);
    assert.equal(answer.referenced.length, 2);
    assert.equal(answer.failed.length, 1);
  });

  it('STOW-RS to /studies/{uid}: an instance of another study is refused', async () => {
    const file = seriesFiles('j2k-ct', 'dicom_fixed')[3] as string;
    const { body, contentType } = multipartRelated([{ contentType: 'application/dicom', bytes: fs.readFileSync(file) }]);
    const wrong = await stow(`${stowUrl}/1.2.3.4.5`, body, contentType);
    assert.equal(wrong.status, 409);
    assert.match(wrong.failed[0]?.text ?? '', /differs from the study in the URL/);
    const right = await stow(`${stowUrl}/1.2.826.0.1.3680043.8.498.1000000000000000000000000000000001`, body, contentType);
    assert.equal(right.status, 200);
  });

  it('STOW-RS: wrong content types -> 415, malformed multipart -> 400', async () => {
    const bytes = fs.readFileSync(seriesFiles('j2k-ct', 'dicom_fixed')[0] as string);
    const asJson = await fetch(stowUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(asJson.status, 415);
    const plainDicom = await fetch(stowUrl, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: bytes });
    assert.equal(plainDicom.status, 415);
    const { body } = multipartRelated([{ contentType: 'application/dicom+json', bytes: Buffer.from('[]') }], 'b1');
    const metadata = await fetch(stowUrl, { method: 'POST', headers: { 'Content-Type': 'multipart/related; type="application/dicom+json"; boundary=b1' }, body });
    assert.equal(metadata.status, 415);
    const unterminated = Buffer.concat([Buffer.from('--b2\r\nContent-Type: application/dicom\r\n\r\n'), bytes]);
    const cut = await fetch(stowUrl, { method: 'POST', headers: { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b2' }, body: unterminated });
    assert.equal(cut.status, 400);
    assert.match(await cut.text(), /closing boundary/);
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'spool/.incoming')), []);
  });

  it('STOW-RS: a body over http.maxStowBytes -> 413 (declared and streamed), service keeps serving', async () => {
    const smallConfig = configSchema.parse({ ...config, http: { ...config.http, maxStowBytes: 300_000 } });
    const app = express();
    app.use('/dicomweb', createStowRouter({ config: smallConfig, sink, logger }));
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicomweb/studies`;
    try {
      const before = received.length;
      const files = seriesFiles('chest-ct-1').slice(0, 4); // ~840 kB
      const { body, contentType } = multipartRelated(files.map((f) => ({ contentType: 'application/dicom', bytes: fs.readFileSync(f) })));
      const declared = await fetch(url, { method: 'POST', headers: { 'Content-Type': contentType }, body });
      assert.equal(declared.status, 413);
      // Chunked upload (no Content-Length): the limit is enforced while streaming.
      const streamed = await new Promise<number>((resolve, reject) => {
        const req = http.request(url, { method: 'POST', headers: { 'Content-Type': contentType, 'Transfer-Encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
        req.end();
      });
      assert.equal(streamed, 413);
      assert.equal(received.length, before);
      const ok = multipartRelated([{ contentType: 'application/dicom', bytes: fs.readFileSync(files[0] as string) }]);
      assert.equal((await stow(url, ok.body, ok.contentType)).status, 200, 'a small body still works');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
