import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { MultipartError, MultipartRelatedSplitter, parseMediaType } from '../src/listener/multipart-related.ts';
import { pagedSource } from '../src/listener/byte-source.ts';
import { validateInstance } from '../src/listener/validate-instance.ts';
import { decidePresentationContext, isCallingAeAllowed } from '../src/listener/negotiation.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataRoot = path.resolve(here, '../../shared/data/ct');
const firstFile = (dir: string): string => path.join(dir, fs.readdirSync(dir).sort()[0] as string);
const chest = fs.readFileSync(firstFile(path.join(dataRoot, 'chest-ct-1/dicom')));
const j2kFixed = fs.readFileSync(firstFile(path.join(dataRoot, 'j2k-ct/dicom_fixed')));
const j2kBroken = fs.readFileSync(firstFile(path.join(dataRoot, 'j2k-ct/dicom')));
const totalseg = fs.readFileSync(firstFile(path.join(dataRoot, 'totalseg-abdomen/dicom')));

/** Splits `body` into chunks of `size` bytes and returns the part bodies the splitter produced. */
async function split(body: Buffer, boundary: string, size: number): Promise<{ headers: Record<string, string>; bytes: Buffer }[]> {
  const collected: Buffer[][] = [];
  const splitter = new MultipartRelatedSplitter(boundary, (_headers, index) => {
    collected[index] = [];
    return new Writable({
      write(chunk: Buffer, _enc, done) {
        collected[index]?.push(Buffer.from(chunk));
        done();
      },
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    splitter.once('finish', resolve);
    splitter.once('error', reject);
  });
  for (let i = 0; i < body.length; i += size) splitter.write(body.subarray(i, i + size));
  splitter.end();
  await done;
  return splitter.parts.map((p, i) => ({ headers: p.headers, bytes: Buffer.concat(collected[i] ?? []) }));
}

describe('listener parsing (pure): multipart/related splitter, instance validation, negotiation', () => {
  describe('MultipartRelatedSplitter', () => {
    // Preamble, transport padding after a boundary, a part without headers, a body containing
    // "--boundary" without the CRLF in front (not a delimiter, RFC 2046 5.1.1), and an epilogue.
    const boundary = 'XyZ';
    const tricky = Buffer.from('not--XyZ a delimiter\r\n-XyZ nor \n--XyZ (bare LF)\r\n');
    const body = Buffer.concat([
      Buffer.from('preamble to ignore\r\n--XyZ  \t\r\nContent-Type: application/dicom\r\nX-Extra: 1\r\n\r\n'),
      j2kFixed,
      Buffer.from('\r\n--XyZ\r\n\r\n'),
      tricky,
      Buffer.from('\r\n--XyZ\r\nContent-Type: application/dicom\r\n\r\n'),
      chest,
      Buffer.from('\r\n--XyZ--\r\nepilogue'),
    ]);

    for (const size of [1, 2, 3, 5, 7, 13, 64, 1000, 65536, body.length]) {
      it(`recovers every part exactly when the body arrives in ${size}-byte chunks`, async function () {
        if (size < 5) this.timeout(120_000);
        const parts = await split(body, boundary, size);
        assert.equal(parts.length, 3);
        assert.ok(parts[0]?.bytes.equals(j2kFixed));
        assert.equal(parts[0]?.headers['content-type'], 'application/dicom');
        assert.equal(parts[0]?.headers['x-extra'], '1');
        assert.deepEqual(parts[1]?.headers, {});
        assert.ok(parts[1]?.bytes.equals(tricky));
        assert.ok(parts[2]?.bytes.equals(chest));
      });
    }

    it('fails on a body without the closing boundary', async () => {
      const cut = Buffer.concat([Buffer.from('--b\r\n\r\n'), j2kFixed]);
      await assert.rejects(split(cut, 'b', 4096), MultipartError);
    });

    it('parses Content-Type parameters (quoted, any order, case)', () => {
      const m = parseMediaType('Multipart/Related; Type="application/dicom"; boundary="a b;c"; start=x');
      assert.equal(m?.mediaType, 'multipart/related');
      assert.equal(m?.params.type, 'application/dicom');
      assert.equal(m?.params.boundary, 'a b;c');
      assert.equal(parseMediaType('garbage'), null);
    });
  });

  describe('validateInstance on real files', () => {
    it('accepts real CT in JPEG lossless, JPEG 2000 and Explicit VR LE', () => {
      for (const [name, bytes, ts] of [
        ['chest-ct-1', chest, '1.2.840.10008.1.2.4.70'],
        ['j2k-ct/dicom_fixed', j2kFixed, '1.2.840.10008.1.2.4.90'],
        ['totalseg-abdomen', totalseg, '1.2.840.10008.1.2.1'],
      ] as const) {
        const v = validateInstance(bytes);
        assert.ok(v.ok, `${name}: ${v.ok ? '' : v.detail}`);
        assert.equal(v.transferSyntaxUID, ts);
        assert.equal(v.modality, 'CT');
      }
    });

    it('accepts the same CT re-encoded by dcmconv as Implicit LE, Explicit BE and Deflated', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-ts-'));
      try {
        const source = firstFile(path.join(dataRoot, 'totalseg-abdomen/dicom'));
        for (const [flag, ts] of [['+ti', '1.2.840.10008.1.2'], ['+tb', '1.2.840.10008.1.2.2'], ['+td', '1.2.840.10008.1.2.1.99']] as const) {
          const out = path.join(dir, `${flag.slice(1)}.dcm`);
          execFileSync('dcmconv', [flag, source, out]);
          const bytes = fs.readFileSync(out);
          const v = validateInstance(bytes);
          assert.ok(v.ok && v.transferSyntaxUID === ts, `${flag}: ${JSON.stringify(v)}`);
          // Cut near the end: must be caught in this byte order / encoding too.
          const cut = validateInstance(bytes.subarray(0, bytes.length - 1000));
          assert.ok(!cut.ok && cut.reason === 'truncated', `${flag} truncated: ${JSON.stringify(cut)}`);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a CT object without Pixel Data (0xA900, named)', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-nopix-'));
      try {
        const out = path.join(dir, 'no-pixels.dcm');
        const source = firstFile(path.join(dataRoot, 'totalseg-abdomen/dicom'));
        fs.copyFileSync(source, out);
        execFileSync('dcmodify', ['-nb', '-e', '(7fe0,0010)', out]);
        const v = validateInstance(fs.readFileSync(out));
        assert.ok(!v.ok && v.status === 0xa900, JSON.stringify(v));
        assert.match(v.detail, /Pixel Data \(7FE0,0010\) is missing/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('names the empty UID of the original j2k-ct files', () => {
      const v = validateInstance(j2kBroken);
      assert.ok(!v.ok);
      assert.equal(v.status, 0xa900);
      assert.match(v.detail, /SOPClassUID \(0008,0016\) is empty/);
      assert.ok(v.sopInstanceUID.length > 0, 'falls back to the meta SOP Instance UID for the failure report');
    });

    it('refuses every truncation of a real file (200 cut points across header and pixel data)', () => {
      let refusedTruncated = 0;
      for (const file of [chest, j2kFixed, totalseg]) {
        for (let k = 1; k <= 200; k++) {
          const cut = Math.floor((file.length * k) / 201);
          const v = validateInstance(file.subarray(0, cut));
          assert.ok(!v.ok, `accepted a file cut at ${cut}/${file.length}`);
          if (v.reason === 'truncated') refusedTruncated++;
        }
      }
      console.log(`      600 truncated files refused (${refusedTruncated} as 'truncated', the rest as unreadable/incomplete header)`);
    });

    it('gives the same verdicts through a paged reader (large-file path) as on whole buffers', () => {
      const paged = (b: Buffer) =>
        pagedSource(b.length, (target, position) => {
          const n = Math.max(0, Math.min(target.length, b.length - position));
          target.set(b.subarray(position, position + n));
          return n;
        }, 1000); // tiny pages: every read spans page edges somewhere
      for (const file of [chest, j2kFixed, totalseg, j2kBroken]) {
        for (let k = 1; k <= 41; k++) {
          const cut = k === 41 ? file.length : Math.floor((file.length * k) / 41);
          const part = file.subarray(0, cut);
          assert.deepEqual(validateInstance(paged(part)), validateInstance(part), `cut ${cut}/${file.length}`);
        }
      }
    });

    it('validates all 305 shared CT instances (255 + 20 + 30) as acceptable', () => {
      let n = 0;
      for (const dir of ['chest-ct-1/dicom', 'j2k-ct/dicom_fixed', 'totalseg-abdomen/dicom']) {
        for (const f of fs.readdirSync(path.join(dataRoot, dir))) {
          const v = validateInstance(fs.readFileSync(path.join(dataRoot, dir, f)));
          assert.ok(v.ok, `${dir}/${f}: ${v.ok ? '' : v.detail}`);
          n++;
        }
      }
      assert.equal(n, 305);
      console.log(`      ${n} real instances accepted`);
    });
  });

  describe('association negotiation', () => {
    it('accepts every storage class in the caller\'s transfer syntax order, rejects other services', () => {
      assert.deepEqual(decidePresentationContext('1.2.840.10008.5.1.4.1.1.2', ['1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.1']), {
        accept: true,
        transferSyntaxUID: '1.2.840.10008.1.2.4.80',
      });
      assert.equal(decidePresentationContext('1.2.840.10008.5.1.4.1.1.4', ['1.2.840.10008.1.2']).accept, true, 'MR context accepted (refused per instance with 0x0122)');
      assert.deepEqual(decidePresentationContext('1.2.840.10008.5.1.4.1.1.2', ['1.2.840.10008.1.2.4.100']), { accept: false, why: 'transfer-syntaxes-not-supported' });
      assert.deepEqual(decidePresentationContext('1.2.840.10008.5.1.4.1.2.2.1', ['1.2.840.10008.1.2']), { accept: false, why: 'abstract-syntax-not-supported' });
      assert.equal(isCallingAeAllowed('  ORTHANC ', ['ORTHANC']), true);
      assert.equal(isCallingAeAllowed('OTHER', ['ORTHANC']), false);
      assert.equal(isCallingAeAllowed('ANY', []), true);
    });
  });
});
