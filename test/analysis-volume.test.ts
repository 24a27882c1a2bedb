import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildCtVolume, toSourceGrid } from '../src/analysis/volume.ts';
import { NotAssessableInputError } from '../src/analysis/errors.ts';
import { segmentTissues } from '../src/analysis/tissue.ts';
import { readPatientSizeM, readSliceHeader } from '../src/analysis/decode.ts';
import { PADDING_HU, type CtVolume, type DicomInput } from '../src/analysis/types.ts';
import { editDicom, editedInputs, lazyInputs, pydicomHu, readArrayBuffer, seriesFiles, tempDir } from './helpers/ct-data.ts';

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

function seededShuffle<T>(items: T[], seed: number): T[] {
  const out = items.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function sliceOf(v: CtVolume, k: number): Int16Array {
  const n = v.rows * v.columns;
  return v.hu.subarray(k * n, (k + 1) * n);
}

describe('analysis volume: chest-ct-1 (255 slices, JPEG lossless .70)', () => {
  const files = seriesFiles('chest-ct-1');
  let volume: CtVolume;

  before(async () => {
    volume = await buildCtVolume(lazyInputs(files));
  });

  it('sorts head to foot with the documented geometry', () => {
    assert.equal(volume.slices, 255);
    assert.equal(volume.rows, 512);
    assert.equal(volume.columns, 512);
    assert.deepEqual(volume.pixelSpacingMm, [0.703125, 0.703125]);
    assert.equal(volume.sliceSpacingMm, 1.25);
    assert.equal(volume.sliceZMm[0], -31.75);
    assert.equal(volume.sliceZMm[254], -349.25);
    for (let k = 1; k < volume.slices; k++) assert.ok(volume.sliceZMm[k]! < volume.sliceZMm[k - 1]!, `z not decreasing at ${k}`);
    assert.equal(new Set(volume.sopInstanceUIDs).size, 255);
    assert.deepEqual(volume.imageOrientationPatient, [1, 0, 0, 0, 1, 0]);
    assert.equal(volume.excluded.length, 0);
  });

  it('has sane HU: air about -1000, bone up to a few thousand, padding marked (PixelPaddingValue -2000)', () => {
    let min = Infinity;
    let max = -Infinity;
    let padding = 0;
    for (let i = 0; i < volume.hu.length; i++) {
      if (volume.paddingMask[i]) {
        padding++;
        assert.equal(volume.hu[i], PADDING_HU);
        continue;
      }
      const v = volume.hu[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    console.log(`      chest-ct-1 HU range ${min}..${max}, padding voxels ${(100 * padding / volume.hu.length).toFixed(1)} %`);
    assert.ok(min >= -1100 && min <= -900, `min HU ${min}`);
    assert.ok(max >= 1000 && max <= 4000, `max HU ${max}`);
    assert.ok(padding > 0.1 * volume.hu.length, 'the outside-circle padding is marked');
  });

  it('decodes JPEG lossless bit-exactly (dcmdjpeg + pydicom as the independent decoder)', () => {
    const dir = tempDir('djpeg');
    try {
      // 8, 12, 190, 254 are slices where jpeg-lossless-decoder-js alone gets the last sample wrong (see decode.ts).
      const picks = [0, 8, 12, 127, 190, 254];
      const plain = picks.map((k) => {
        const out = path.join(dir, `${k}.dcm`);
        execFileSync('dcmdjpeg', [files[k]!, out]);
        return out;
      });
      const reference = pydicomHu(plain);
      picks.forEach((k, j) => assert.ok(sameBytes(sliceOf(volume, k), reference[j]!), `slice ${k} differs from dcmdjpeg`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the identical volume for a shuffled input order', async () => {
    const shuffled = await buildCtVolume(lazyInputs(seededShuffle(files, 42)));
    assert.deepEqual(shuffled.sopInstanceUIDs, volume.sopInstanceUIDs);
    assert.deepEqual(shuffled.sliceZMm, volume.sliceZMm);
    assert.ok(sameBytes(shuffled.hu, volume.hu));
    assert.ok(sameBytes(shuffled.paddingMask, volume.paddingMask));
  });

  it('never counts padding voxels as fat or muscle at the T11 slice', () => {
    const k = 190;
    const masks = segmentTissues(volume, k);
    const n = volume.rows * volume.columns;
    const pad = volume.paddingMask.subarray(k * n, (k + 1) * n);
    let padded = 0;
    for (let i = 0; i < n; i++) {
      if (!pad[i]) continue;
      padded++;
      assert.equal(masks.subcutaneousFat[i]! | masks.visceralFat[i]! | masks.erectorSpinae[i]! | masks.body[i]!, 0);
    }
    assert.ok(padded > 1000);
  });
});

describe('analysis volume: j2k-ct (JPEG 2000, empty UIDs)', () => {
  it('decodes every slice exactly like pydicom (Pillow/OpenJPEG) and sorts by z', async () => {
    const files = seriesFiles('j2k-ct');
    const volume = await buildCtVolume(lazyInputs(files));
    assert.equal(volume.slices, 20);
    assert.equal(volume.studyInstanceUID, '');
    assert.equal(volume.sliceZMm[0], -766.5);
    assert.equal(volume.sliceZMm[19], -804.5);
    // SOPInstanceUID is empty in the dataset: the meta header's UID is used, which names the file.
    const byUid = volume.sopInstanceUIDs.map((uid) => files.find((f) => path.basename(f) === `CT.${uid}`)!);
    assert.ok(byUid.every(Boolean), 'every slice maps back to its file via the meta SOPInstanceUID');
    const reference = pydicomHu(byUid);
    let max = -Infinity;
    reference.forEach((ref, k) => {
      assert.ok(sameBytes(sliceOf(volume, k), ref), `slice ${k} differs from pydicom`);
      for (const v of ref) if (v > max) max = v;
    });
    assert.equal(max, 2863 - 1024, '12-bit stored values are not truncated');
  });

  it('picks the same stack whatever the order when two copies of a series tie (original + UID-repaired)', async () => {
    const both = [...seriesFiles('j2k-ct'), ...seriesFiles('j2k-ct', 'dicom_fixed')];
    const a = await buildCtVolume(lazyInputs(both));
    const b = await buildCtVolume(lazyInputs(seededShuffle(both, 7)));
    assert.equal(a.slices, 20);
    assert.equal(a.excluded.length, 20);
    assert.equal(a.seriesInstanceUID, b.seriesInstanceUID);
  });

  it('gives the same pixels for the UID-repaired copy', async () => {
    const a = await buildCtVolume(lazyInputs(seriesFiles('j2k-ct')));
    const b = await buildCtVolume(lazyInputs(seriesFiles('j2k-ct', 'dicom_fixed')));
    assert.ok(sameBytes(a.hu, b.hu));
    assert.equal(b.seriesInstanceUID, '1.2.826.0.1.3680043.8.498.1000000000000000000000000000000002');
  });
});

describe('analysis volume: transfer syntaxes, exclusions, geometry (totalseg-abdomen, edited in memory)', () => {
  const files = seriesFiles('totalseg-abdomen');
  let reference: CtVolume;

  before(async () => {
    reference = await buildCtVolume(lazyInputs(files));
    assert.equal(reference.slices, 30);
  });

  const conversions: [string, string, (src: string, dst: string) => void][] = [
    ['implicit VR little endian', '1.2.840.10008.1.2', (s, d) => execFileSync('dcmconv', ['+ti', s, d])],
    ['deflated explicit little endian', '1.2.840.10008.1.2.1.99', (s, d) => execFileSync('dcmconv', ['+td', s, d])],
    ['RLE lossless', '1.2.840.10008.1.2.5', (s, d) => execFileSync('dcmcrle', [s, d])],
    ['JPEG lossless SV1 (.70)', '1.2.840.10008.1.2.4.70', (s, d) => execFileSync('dcmcjpeg', ['+e1', s, d])],
    ['JPEG-LS lossless', '1.2.840.10008.1.2.4.80', (s, d) => execFileSync('dcmcjpls', [s, d])],
    ['JPEG 2000 lossless', '1.2.840.10008.1.2.4.90', (s, d) => execFileSync('gdcmconv', ['--j2k', s, d])],
  ];
  for (const [name, tsUid, convert] of conversions) {
    it(`decodes ${name} to the same HU as the uncompressed original`, async () => {
      const dir = tempDir('ts');
      try {
        const converted = files.map((f) => {
          const out = path.join(dir, path.basename(f));
          convert(f, out);
          return out;
        });
        assert.equal(readSliceHeader(readArrayBuffer(converted[0]!)).transferSyntaxUID, tsUid);
        const v = await buildCtVolume(lazyInputs(converted));
        assert.equal(v.excluded.length, 0, JSON.stringify(v.excluded));
        assert.ok(sameBytes(v.hu, reference.hu), `${name}: HU differ`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('excludes big endian with a reason instead of guessing byte order', async () => {
    const dir = tempDir('be');
    try {
      const out = path.join(dir, 'be.dcm');
      execFileSync('dcmconv', ['+tb', files[0]!, out]);
      await assert.rejects(buildCtVolume(lazyInputs([out])), (e: Error) => e instanceof NotAssessableInputError && /unsupported transfer syntax 1\.2\.840\.10008\.1\.2\.2/.test(e.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the CT stack and lists localizers, reformats, other series, non-DICOM and duplicates as excluded', async () => {
    const base = files.map((f) => ({ label: path.basename(f), bytes: readArrayBuffer(f) }));
    const first = base[0]!.bytes;
    const inputs: DicomInput[] = [
      ...base,
      { label: 'scout', bytes: editDicom(first, (ds) => ((ds.ImageType = ['ORIGINAL', 'PRIMARY', 'LOCALIZER']), (ds.SOPInstanceUID = '1.2.3.4.1'))) },
      {
        label: 'sagittal',
        bytes: editDicom(first, (ds) => ((ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]), (ds.SOPInstanceUID = '1.2.3.4.2'))),
      },
      { label: 'sr', bytes: editDicom(first, (ds) => ((ds.SOPClassUID = '1.2.840.10008.5.1.4.1.1.88.22'), (ds.Modality = 'SR'), (ds.SOPInstanceUID = '1.2.3.4.3'))) },
      { label: 'notes.txt', bytes: new TextEncoder().encode('not dicom').buffer as ArrayBuffer },
      { label: 'resent', bytes: base[5]!.bytes },
      ...seriesFiles('chest-ct-1').slice(0, 3).map((f) => ({ label: path.basename(f), bytes: readArrayBuffer(f) })),
    ];
    const v = await buildCtVolume(inputs);
    assert.equal(v.slices, 30);
    assert.ok(sameBytes(v.hu, reference.hu));
    const reason = (label: string) => v.excluded.find((e) => e.label === label)?.reason ?? '';
    assert.match(reason('scout'), /localizer/);
    assert.match(reason('sagittal'), /not axial/);
    assert.match(reason('sr'), /not a CT image/);
    assert.match(reason('notes.txt'), /not a readable DICOM/);
    assert.ok(v.excluded.some((e) => /duplicate slice position/.test(e.reason)));
    assert.match(reason('1-001.dcm'), /other series or geometry \(3 instance/);
    assert.equal(v.excluded.length, 8);
  });

  it('refuses a gantry-tilted (sheared) stack with a reason', async () => {
    const tilt = Math.tan((12 * Math.PI) / 180);
    const inputs = editedInputs(files, (ds) => {
      const [x, y, z] = ds.ImagePositionPatient.map(Number);
      ds.ImagePositionPatient = [x, y + z * tilt, z];
    });
    await assert.rejects(buildCtVolume(inputs), (e: Error) => e instanceof NotAssessableInputError && /gantry tilt/.test(e.message));
  });

  it('reorients a 180-degree in-plane rotation (IOP -1\\0\\0\\0\\-1\\0) to the canonical grid', async () => {
    const inputs = editedInputs(files, (ds) => {
      const rows = ds.Rows as number;
      const cols = ds.Columns as number;
      const [ps0, ps1] = ds.PixelSpacing.map(Number);
      const [x, y, z] = ds.ImagePositionPatient.map(Number);
      // The old last pixel becomes the first one.
      ds.ImagePositionPatient = [x + (cols - 1) * ps1, y + (rows - 1) * ps0, z];
      ds.ImageOrientationPatient = [-1, 0, 0, 0, -1, 0];
      const px = new Int16Array((ds.PixelData[0] as ArrayBuffer).slice(0));
      px.reverse();
      ds.PixelData = [px.buffer];
    });
    const v = await buildCtVolume(inputs);
    assert.deepEqual(v.imageOrientationPatient, [1, 0, 0, 0, 1, 0]);
    assert.ok(sameBytes(v.hu, reference.hu));
    assert.deepEqual(v.sourceGrid, { rows: 101, columns: 122, imageOrientationPatient: [-1, 0, 0, 0, -1, 0], transposed: false, flipRows: true, flipColumns: true });
    // Mapping a stored slice back gives the rotated source pixels again.
    const n = v.rows * v.columns;
    const back = toSourceGrid(v.hu.slice(0, n), v);
    const rotated = reference.hu.slice(0, n).reverse();
    assert.ok(sameBytes(back, rotated));
    assert.equal(reference.sourceGrid, undefined);
    v.imagePositionPatient[0]!.forEach((c, i) => assert.ok(Math.abs(c - reference.imagePositionPatient[0]![i]!) < 1e-3));
  });

  it('reorients a transposed grid (IOP 0\\1\\0\\1\\0\\0) to the canonical grid', async () => {
    const inputs = editedInputs(files, (ds) => {
      const rows = ds.Rows as number;
      const cols = ds.Columns as number;
      const px = new Int16Array((ds.PixelData[0] as ArrayBuffer).slice(0));
      const t = new Int16Array(px.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = px[r * cols + c]!;
      ds.Rows = cols;
      ds.Columns = rows;
      ds.ImageOrientationPatient = [0, 1, 0, 1, 0, 0];
      ds.PixelData = [t.buffer];
    });
    const v = await buildCtVolume(inputs);
    assert.equal(v.rows, reference.rows);
    assert.equal(v.columns, reference.columns);
    assert.deepEqual(v.imageOrientationPatient, [1, 0, 0, 0, 1, 0]);
    assert.ok(sameBytes(v.hu, reference.hu));
    assert.equal(v.sourceGrid?.transposed, true);
  });

  it('reads PatientSize only when plausible', async () => {
    const withSize = (size: string) =>
      buildCtVolume(editedInputs(files.slice(0, 2), (ds) => (ds.PatientSize = size)));
    assert.equal((await withSize('1.62')).patientSizeM, 1.62);
    assert.equal((await withSize('162')).patientSizeM, null);
    assert.equal(reference.patientSizeM, null);
    assert.equal(readPatientSizeM('0'), null);
    assert.equal(readPatientSizeM(2.31), null);
  });

  it('marks PixelPaddingValue voxels as padding and never segments them', async () => {
    // Declare the stored value of -100 HU as padding: every such voxel (inside fat!) must drop out.
    const storedPad = -100 + 1024;
    const inputs = editedInputs(files, (ds) => (ds.PixelPaddingValue = storedPad));
    const v = await buildCtVolume(inputs);
    const n = v.rows * v.columns;
    let padded = 0;
    for (let i = 0; i < v.hu.length; i++) {
      const wasPad = reference.hu[i] === -100;
      assert.equal(v.paddingMask[i], wasPad ? 1 : 0);
      if (wasPad) (padded += 1), assert.equal(v.hu[i], PADDING_HU);
    }
    assert.ok(padded > 100, `only ${padded} padded voxels`);
    for (const k of [0, 1, 2]) {
      const m = segmentTissues(v, k);
      const pad = v.paddingMask.subarray(k * n, (k + 1) * n);
      for (let i = 0; i < n; i++) if (pad[i]) assert.equal(m.subcutaneousFat[i]! | m.visceralFat[i]! | m.erectorSpinae[i]!, 0);
    }
  });

  it('throws NotAssessableInputError naming the reasons when nothing usable is left', async () => {
    await assert.rejects(buildCtVolume([]), /no DICOM instances given/);
    await assert.rejects(
      buildCtVolume([{ label: 'a.txt', bytes: new ArrayBuffer(10) }]),
      (e: Error) => e instanceof NotAssessableInputError && /no usable axial CT image among 1 instance\(s\): 1x not a readable DICOM/.test(e.message),
    );
  });
});
