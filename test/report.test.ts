/**
 * Report stage: SR (TID 1500), ORU^R01, heatmap Secondary Capture, source context.
 * Objects are checked with the real validators: dciodvfy (dicom3tools) must find 0 errors and
 * dsrdump (dcmtk) must render the SR; the ORU is parsed back with node-hl7-client.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dcmjs from 'dcmjs';
import { Client, Message } from 'node-hl7-client';
import { PNG } from 'pngjs';
import { buildHeatmapSecondaryCapture, rgbFromPng } from '../src/report/heatmap-sc.ts';
import { buildOruR01 } from '../src/report/oru.ts';
import { sourceContextFromDicom } from '../src/report/source-context.ts';
import { buildMeasurementReportSr, trackingUid } from '../src/report/sr.ts';
import { buildTissueSegmentation, packBinaryFrames } from '../src/report/tissue-seg.ts';
import { buildReportBundle } from '../src/report/index.ts';
import { encodeRgbPng } from '../src/model/gradcam.ts';
import type { TissueMasks } from '../src/analysis/types.ts';
import type { DicomObject } from '../src/report/types.ts';
import { isValidUid } from '../src/report/uids.ts';
import { startMllpListener, startOrthanc, storescu } from './peers/index.ts';
import {
  SOURCE_CT_FILE,
  assessableAnalysis,
  notAssessableAnalysis,
  readSourceContext,
  reportInput,
  riskResult,
} from './report-inputs.ts';

const { context: source, sopInstanceUID: t11Sop } = readSourceContext();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-report-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(obj: DicomObject, name: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, obj.bytes);
  return file;
}

/** dciodvfy prints "Error - ..." / "Warning - ..." lines on stderr. */
function dciodvfy(file: string): { errors: string[]; warnings: string[] } {
  const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  const lines = `${r.stdout}\n${r.stderr}`.split('\n');
  return {
    errors: lines.filter((l) => /\bError\b/.test(l)),
    warnings: lines.filter((l) => /\bWarning\b/.test(l)),
  };
}

function assertValidDicom(file: string, label: string): void {
  const { errors, warnings } = dciodvfy(file);
  console.log(`      dciodvfy ${label}: ${errors.length} errors, ${warnings.length} warnings`);
  assert.deepEqual(errors, [], `dciodvfy errors for ${label}`);
}

/** dsrdump checks the SR relationship constraints while rendering; it must not complain. */
function dsrdump(file: string): string {
  const r = spawnSync('dsrdump', ['+Pl', '+Pc', '+Pu', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `dsrdump failed: ${r.stderr}`);
  // dcmtk's VR checker cannot check UTF-8 strings and says so; any other message is a finding.
  const complaints = r.stderr.split('\n').filter((l) => /^(E|W):/.test(l) && !/VR checker does not support/.test(l));
  assert.deepEqual(complaints, [], 'dsrdump complaints');
  return r.stdout;
}

function dcmdump(file: string): string {
  return execFileSync('dcmdump', ['-M', '+L', file], { encoding: 'utf8' });
}

function countOccurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

const ORU_HEADER = {
  messageControlId: 'BM0001',
  dateTime: '20261123120500',
  sendingApplication: 'BONEMET',
  sendingFacility: 'RAD',
  receivingApplication: 'EHR',
  receivingFacility: 'HOSP',
};

describe('report: source context', () => {
  it('reads study/series identity from a real CT file', () => {
    assert.ok(isValidUid(source.studyInstanceUID));
    assert.ok(isValidUid(source.seriesInstanceUID));
    assert.equal(source.sopClassUID, '1.2.840.10008.5.1.4.1.1.2');
    assert.ok(source.patientId.length > 0, 'patient id present');
    assert.equal(source.studyDate, '20020802');
    assert.equal(source.patientSex, 'F');
    assert.equal(source.studyDescription, 'CT CHEST WITHOUT CONTRAST');
  });

  it('names the problem for bytes that are not DICOM', () => {
    assert.throws(() => sourceContextFromGarbage(), /not readable DICOM Part 10/);
  });
});

function sourceContextFromGarbage(): unknown {
  const bytes = new TextEncoder().encode('this is not a DICOM file at all, not even close...').buffer;
  return sourceContextFromDicom(bytes);
}

describe('report: TID 1500 SR', () => {
  const withHeight = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62 }));

  it('assessable with height: 0 dciodvfy errors; dsrdump shows T11 site, areas and indices', () => {
    const sr = buildMeasurementReportSr(withHeight);
    const file = write(sr, 'sr-assessable.dcm');
    assertValidDicom(file, 'SR assessable+height');
    const dump = dsrdump(file);
    assert.equal(countOccurrences(dump, '"Finding Site")=(12989004,SCT,"T11 vertebra")'), 3, 'finding site T11 in 3 tissue groups');
    assert.equal(countOccurrences(dump, '"Finding")=(12989004,SCT,"T11 vertebra")'), 1, 'level group finding');
    assert.equal(countOccurrences(dump, '"Measurement Group"'), 4, 'level + 3 tissues');
    assert.equal(countOccurrences(dump, '<has obs context TEXT:(112039,DCM,"Tracking Identifier")'), 4, 'TID 1501 row 2');
    assert.equal(countOccurrences(dump, '<has obs context UIDREF:(112040,DCM,"Tracking Unique Identifier")'), 4, 'TID 1501 row 3');
    assert.equal(countOccurrences(dump, '<inferred from NUM:(8302-2,LN,"Body height")="1.62" (m,UCUM'), 3, 'indices say which height');
    assert.match(dump, /"Area"\)="123\.46" \(cm2,UCUM/);
    assert.match(dump, /"Area"\)="80\.1" \(cm2,UCUM/);
    assert.match(dump, /"Area"\)="30\.25" \(cm2,UCUM/);
    // 123.46 / 1.62^2 = 47.04
    assert.match(dump, /Subcutaneous fat index \(area\/height squared\)"\)="47\.04" \(cm2\/m2,UCUM/);
    assert.match(dump, /Finding"\)=\(727176007,SCT/);
    assert.match(dump, /Finding"\)=\(44947003,SCT/);
    assert.match(dump, /Tracking Unique Identifier"\)="2\.25\.\d+"/);
    assert.match(dump, /T11 level-finder confidence"\)="0\.87"/);
    assert.match(dump, /Procedure reported"\)=\(25045-6,LN/);
    assert.equal(countOccurrences(dump, 'Imaging Measurement Report'), 1);
    assert.equal(sr.studyInstanceUID, source.studyInstanceUID);
    const meta = dcmdump(file);
    assert.match(meta, /\(0002,0010\) UI =LittleEndianExplicit/);
    assert.match(meta, /\(0002,0012\) UI \[2\.25\.\d+\]/);
    assert.match(meta, /\(0002,0013\) SH \[BONEMET_0\.1\.0\]/);
    assert.ok(meta.includes(t11Sop), 'evidence sequence references the T11 image');
  });

  it('is deterministic: same input, same bytes; tracking UIDs differ per tissue', () => {
    const a = buildMeasurementReportSr(withHeight).bytes;
    const b = buildMeasurementReportSr(withHeight).bytes;
    assert.deepEqual(Buffer.from(a), Buffer.from(b));
    const uids = ['sat', 'vat', 'esm'].map((k) => trackingUid(withHeight.uids.sopInstanceUID, k));
    assert.equal(new Set(uids).size, 3);
    for (const u of uids) assert.ok(isValidUid(u), u);
  });

  it('assessable without height: areas present, indices flagged as not attempted', () => {
    const sr = buildMeasurementReportSr(reportInput(source, assessableAnalysis(t11Sop, { heightM: null })));
    const file = write(sr, 'sr-noheight.dcm');
    assertValidDicom(file, 'SR no height');
    const dump = dsrdump(file);
    assert.match(dump, /"Area"\)="123\.46"/);
    assert.equal(countOccurrences(dump, 'Body height unknown: index not computed'), 3);
    assert.doesNotMatch(dump, /cm2\/m2,UCUM/, 'no index values');
    const ds = readDataset(sr.bytes);
    const qualifiers = JSON.stringify(ds).match(/"114007"/g) ?? [];
    assert.equal(qualifiers.length, 3, 'three NUMs carry "Measurement not attempted"');
  });

  it('not assessable: no measurement groups, says why; evidence lists the analysed instances', () => {
    const evidenceSopInstanceUIDs = ['2.25.7001', '2.25.7002', '2.25.7003'];
    const sr = buildMeasurementReportSr(reportInput(source, notAssessableAnalysis(), { evidenceSopInstanceUIDs }));
    const evidence = readDataset(sr.bytes)['CurrentRequestedProcedureEvidenceSequence'] as Array<Record<string, any>>;
    const refs = evidence[0]?.['ReferencedSeriesSequence']?.[0]?.['ReferencedSOPSequence'] as Array<Record<string, string>>;
    assert.deepEqual(refs.map((r) => r['ReferencedSOPInstanceUID']), evidenceSopInstanceUIDs);
    const file = write(sr, 'sr-not-assessable.dcm');
    assertValidDicom(file, 'SR not assessable');
    const dump = dsrdump(file);
    assert.equal(countOccurrences(dump, '"Measurement Group"'), 0);
    assert.match(dump, /Not assessable: T11 not in the field of view/);
    assert.match(dump, /T11 body composition assessable"\)=\(373067005,SCT,"No"\)/);
  });

  it('not assessable with a clinical-only risk estimate: risk groups only, T11 candidate noted', () => {
    const analysis = notAssessableAnalysis();
    analysis.levelFinding.levels.T11 = { name: 'T11', sliceRange: [250, 254], midSliceIndex: 252, zMm: -346.5, sopInstanceUID: t11Sop, confidence: 0.41, partial: true };
    const risk = { ...riskResult(null), inputsUsed: 'clinical-only' as const };
    const file = write(buildMeasurementReportSr(reportInput(source, analysis, { risk })), 'sr-not-assessable-risk.dcm');
    assertValidDicom(file, 'SR not assessable + clinical-only risk');
    const dump = dsrdump(file);
    assert.equal(countOccurrences(dump, '"Measurement Group"'), 2, 'risk + published evidence only');
    assert.doesNotMatch(dump, /"Area"/);
    assert.match(dump, /T11 candidate confidence 0\.41, body cut by the field of view/);
    assert.match(dump, /Relative hazard from published Cox model"\)=empty \(114007,DCM,"Measurement not attempted"\)/);
    assert.match(dump, /Missing inputs: SFI/);
  });

  it('with risk: probability, model, published evidence labelled as not this model, research use', () => {
    const sr = buildMeasurementReportSr(
      reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62, sfi: 21.3 }), { risk: riskResult('below-cutoff') }),
    );
    const file = write(sr, 'sr-risk.dcm');
    assertValidDicom(file, 'SR with risk');
    const dump = dsrdump(file);
    assert.equal(countOccurrences(dump, '"Measurement Group"'), 6, 'level + 3 tissues + risk + published evidence');
    assert.match(dump, /Tracking Identifier"\)="Published evidence \(Miao et al\. 2023\), not this model"/);
    assert.match(dump, /Predicted probability of metastasis \(research model\)"\)="0\.3127" \(1,UCUM/);
    assert.match(dump, /Algorithm Name"\)="bonemet-lfdlrn-gbdt"/);
    assert.match(dump, /Published evidence \(Miao et al\. 2023\), not this model/);
    assert.match(dump, /Relative hazard from published Cox model"\)="2\.314"/);
    assert.match(dump, /SFI below 27\.7 cm2\/m2/);
    assert.match(dump, /Research use only/);
  });

  it('corrected: predecessor document referenced and correction stated', () => {
    const overridden = assessableAnalysis(t11Sop, { heightM: 1.62 });
    overridden.measuredSlice = { ...overridden.measuredSlice!, source: 'override', confidence: null };
    const sr = buildMeasurementReportSr(
      reportInput(source, overridden, {
        correction: {
          reason: 'radiologist moved level to slice 190',
          replacesSopInstanceUID: '2.25.99',
          replacesSeriesInstanceUID: '2.25.98',
        },
        uids: { seriesInstanceUID: '2.25.101202303040506070809', sopInstanceUID: '2.25.301' },
      }),
    );
    const file = write(sr, 'sr-corrected.dcm');
    assertValidDicom(file, 'SR corrected');
    const dump = dsrdump(file);
    assert.match(dump, /Corrected report: radiologist moved level to slice 190 \(replaces SR 2\.25\.99\)/);
    assert.match(dump, /T11 level source"\)="Radiologist override"/);
    assert.doesNotMatch(dump, /level-finder confidence/, 'no confidence for an override');
    const ds = readDataset(sr.bytes);
    const pred = ds['PredecessorDocumentsSequence'] as Array<Record<string, any>>;
    assert.equal(pred[0]?.['ReferencedSeriesSequence']?.[0]?.['ReferencedSOPSequence']?.[0]?.['ReferencedSOPInstanceUID'], '2.25.99');
  });

  it('non-ASCII patient name: written as UTF-8 with ISO_IR 192, still 0 dciodvfy errors', () => {
    const input = reportInput({ ...source, patientName: 'Müller^Jörg' }, assessableAnalysis(t11Sop, { heightM: 1.62 }));
    const file = write(buildMeasurementReportSr(input), 'sr-utf8.dcm');
    assertValidDicom(file, 'SR UTF-8 name');
    const dump = execFileSync('dcmdump', ['+P', '0008,0005', '+P', '0010,0010', file], { encoding: 'utf8' });
    assert.match(dump, /\[ISO_IR 192\]/);
    assert.ok(dump.includes('Müller^Jörg'), 'name readable as UTF-8');
    // An all-ASCII dataset carries no Specific Character Set (default repertoire).
    const ascii = execFileSync('dcmdump', ['+P', '0008,0005', write(buildMeasurementReportSr(withHeight), 'sr-ascii.dcm')], { encoding: 'utf8' });
    assert.equal(ascii.trim(), '');
  });

  it('rejects bad inputs with a message naming the field', () => {
    const bad = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62 }), {
      uids: { seriesInstanceUID: '2.25.1', sopInstanceUID: '1.2.03' },
    });
    assert.throws(() => buildMeasurementReportSr(bad), /uids\.sopInstanceUID is not a valid DICOM UID/);
    const sameSeries = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62 }), {
      uids: { seriesInstanceUID: source.seriesInstanceUID, sopInstanceUID: '2.25.5' },
    });
    assert.throws(() => buildMeasurementReportSr(sameSeries), /must be a new series/);
    const nanHeight = assessableAnalysis(t11Sop, { heightM: 1.62 });
    nanHeight.bodyComposition!.heightM = Number.NaN;
    assert.throws(() => buildMeasurementReportSr(reportInput(source, nanHeight)), /bodyComposition\.heightM must be a positive number/);
    const badConfidence = assessableAnalysis(t11Sop, { heightM: 1.62 });
    badConfidence.measuredSlice!.confidence = 1.5;
    assert.throws(() => buildOruR01(reportInput(source, badConfidence), ORU_HEADER), /measuredSlice\.confidence must be within 0\.\.1/);
  });
});

function readDataset(bytes: Uint8Array): Record<string, unknown> {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const dict = dcmjs.data.DicomMessage.readFile(ab);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
}

describe('report: ORU^R01', () => {
  function parse(text: string): Message {
    return new Message({ text });
  }
  function obxRows(m: Message): Array<{ type: string; id: string; value: string; units: string; flag: string; status: string }> {
    const rows: Array<{ type: string; id: string; value: string; units: string; flag: string; status: string }> = [];
    m.get('OBX').forEach((obx) => {
      rows.push({
        // Inside a segment, paths are field numbers ("2"), not "OBX.2".
        type: obx.get('2').toString(),
        id: obx.get('3.1').toString(),
        value: obx.get('5').toString(),
        units: [1, 2, 3].map((c) => obx.get(`6.${c}`).toString()).join('^').replace(/^\^\^$/, ''),
        flag: obx.get('8').toString(),
        status: obx.get('11').toString(),
      });
    });
    return rows;
  }

  it('assessable, low SFI: NM rows with UCUM units, SFI flagged L, status F', () => {
    const input = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62, sfi: 21.3 }), { risk: riskResult('below-cutoff') });
    const text = buildOruR01(input, ORU_HEADER);
    assert.ok(!text.includes('\n'), 'segments separated by \\r only');
    const m = parse(text);
    assert.deepEqual([1, 2, 3].map((c) => m.get(`MSH.9.${c}`).toString()), ['ORU', 'R01', 'ORU_R01']);
    assert.equal(m.get('MSH.12').toString(), '2.5.1');
    assert.equal(m.get('MSH.10').toString(), 'BM0001');
    assert.equal(m.get('OBR.25').toString(), 'F');
    assert.equal(m.get('PID.3.1').toString(), source.patientId);
    const rows = obxRows(m);
    const byId = new Map(rows.map((r) => [r.id, r]));
    console.log(`      ORU OBX rows: ${rows.length} (${rows.filter((r) => r.type === 'NM').length} NM)`);
    for (const id of ['SFA', 'VFA', 'ESMA']) assert.equal(byId.get(id)?.units, 'cm2^cm2^UCUM', id);
    for (const id of ['SFI', 'VFI', 'ESMI']) assert.equal(byId.get(id)?.units, 'cm2/m2^cm2/m2^UCUM', id);
    assert.equal(byId.get('SFA')?.value, '123.46');
    assert.equal(byId.get('SFI')?.value, '21.3');
    assert.equal(byId.get('SFI')?.flag, 'L');
    assert.equal(byId.get('VFI')?.flag, '');
    assert.equal(byId.get('RISKP')?.value, '31.3');
    assert.equal(byId.get('RISKP')?.units, '%^%^UCUM');
    assert.match(byId.get('PUBEVID')?.value ?? '', /not this model/);
    assert.equal(byId.get('110180')?.value, source.studyInstanceUID);
    assert.ok(byId.has('RUO'));
    assert.ok(rows.every((r) => r.status === 'F'));
  });

  it('SFI at or above the cut-off is not flagged', () => {
    const input = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62, sfi: 47.04 }));
    const rows = obxRows(parse(buildOruR01(input, ORU_HEADER)));
    assert.equal(rows.find((r) => r.id === 'SFI')?.flag, '');
  });

  it('no height: areas only, no index rows, says why', () => {
    const input = reportInput(source, assessableAnalysis(t11Sop, { heightM: null }));
    const rows = obxRows(parse(buildOruR01(input, ORU_HEADER)));
    assert.equal(rows.filter((r) => r.units === 'cm2^cm2^UCUM').length, 3);
    assert.equal(rows.filter((r) => r.units === 'cm2/m2^cm2/m2^UCUM').length, 0);
    assert.ok(rows.some((r) => r.type === 'TX' && /height unknown/i.test(r.value)));
  });

  it('not assessable: TX reason, no measurements; special characters escaped and round-trip', () => {
    const analysis = notAssessableAnalysis();
    analysis.reason = 'T11 cut | by ^FOV ~ edge \\ & more';
    const m = parse(buildOruR01(reportInput(source, analysis), ORU_HEADER));
    const rows = obxRows(m);
    assert.equal(rows.filter((r) => r.type === 'NM').length, 0);
    const reason = rows.find((r) => r.id === 'NOTASSESSWHY');
    assert.equal(reason?.type, 'TX');
    assert.equal(reason?.value, 'Not assessable: T11 cut | by ^FOV ~ edge \\ & more');
    assert.equal(rows.find((r) => r.id === 'ASSESSABLE')?.value, 'N');
  });

  it('corrected: OBR-25 and every OBX-11 are C', () => {
    const input = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62 }), {
      correction: { reason: 'level override', replacesSopInstanceUID: '2.25.99' },
    });
    const m = parse(buildOruR01(input, ORU_HEADER));
    assert.equal(m.get('OBR.25').toString(), 'C');
    assert.ok(obxRows(m).every((r) => r.status === 'C'));
  });

  it('rejects an over-long control id', () => {
    const input = reportInput(source, notAssessableAnalysis());
    assert.throws(() => buildOruR01(input, { ...ORU_HEADER, messageControlId: 'X'.repeat(21) }), /messageControlId/);
  });
});

describe('report: heatmap Secondary Capture', () => {
  function gradient(rows: number, columns: number): Uint8Array {
    const rgb = new Uint8Array(rows * columns * 3);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        const i = (r * columns + c) * 3;
        rgb[i] = (c * 255) / (columns - 1);
        rgb[i + 1] = (r * 255) / (rows - 1);
        rgb[i + 2] = 128;
      }
    }
    return rgb;
  }

  it('RGB SC referencing T11 passes dciodvfy; pixels round-trip', () => {
    const input = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62 }), { risk: riskResult('below-cutoff') });
    // Odd rows*columns*3 exercises the OB padding.
    const rows = 401;
    const columns = 501;
    const rgb = gradient(rows, columns);
    const sc = buildHeatmapSecondaryCapture(
      input,
      { rows, columns, rgb },
      { sopClassUID: source.sopClassUID, sopInstanceUID: t11Sop },
      { seriesInstanceUID: '2.25.401', sopInstanceUID: '2.25.402' },
    );
    const file = write(sc, 'heatmap-sc.dcm');
    assertValidDicom(file, 'heatmap SC');
    const ds = readDataset(sc.bytes);
    assert.equal(ds['BurnedInAnnotation'], 'YES');
    assert.equal(ds['PhotometricInterpretation'], 'RGB');
    assert.match(String(ds['ImageComments']), /Research use only/);
    const src = ds['SourceImageSequence'] as Array<Record<string, unknown>>;
    assert.equal(src[0]?.['ReferencedSOPInstanceUID'], t11Sop);
    const pixelData = new Uint8Array((ds['PixelData'] as ArrayBuffer[])[0]!);
    assert.equal(pixelData.length, rgb.length + 1, 'odd length padded to even');
    // Outside the burned-in label (top-left box) the pixels are exactly the input.
    const labelRows = 40;
    const below = (labelRows * columns) * 3;
    assert.deepEqual(Buffer.from(pixelData.subarray(below, rgb.length)), Buffer.from(rgb.subarray(below)));
    let white = 0;
    for (let i = 0; i < labelRows * columns; i++) {
      if (pixelData[3 * i] === 255 && pixelData[3 * i + 1] === 255 && pixelData[3 * i + 2] === 255) white++;
    }
    console.log(`      burned-in label: ${white} white pixels`);
    assert.ok(white > 200, 'label ink present');
  });

  it('rgbFromPng decodes the overlay PNG, compositing transparency over black', () => {
    const png = new PNG({ width: 3, height: 2 });
    const rgba = [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 10, 20, 30, 255, 200, 100, 50, 0, 200, 100, 50, 128];
    png.data.set(rgba);
    const image = rgbFromPng(new Uint8Array(PNG.sync.write(png)));
    assert.equal(image.rows, 2);
    assert.equal(image.columns, 3);
    assert.deepEqual([...image.rgb], [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 0, 0, 0, 100, 50, 25]);
    assert.throws(() => rgbFromPng(new Uint8Array([1, 2, 3])), /heatmap PNG is not readable/);
  });

  it('reads the overlay PNG the model actually writes (gradcam encodeRgbPng, RGB without alpha)', () => {
    const width = 5;
    const height = 3;
    const rgb = new Uint8Array(width * height * 3).map((_, i) => (i * 17) % 256);
    const image = rgbFromPng(encodeRgbPng(rgb, width, height));
    assert.equal(image.columns, width);
    assert.equal(image.rows, height);
    assert.deepEqual([...image.rgb], [...rgb]);
  });

  it('rejects a pixel buffer of the wrong size', () => {
    const input = reportInput(source, notAssessableAnalysis());
    assert.throws(
      () => buildHeatmapSecondaryCapture(input, { rows: 4, columns: 4, rgb: new Uint8Array(10) },
        { sopClassUID: source.sopClassUID, sopInstanceUID: t11Sop },
        { seriesInstanceUID: '2.25.401', sopInstanceUID: '2.25.402' }),
      /expected rows\*columns\*3 = 48/,
    );
  });
});

/** Synthetic but anatomically placed masks on the 512x512 grid of the T11 CT image. */
function ringMasks(): TissueMasks {
  const n = 512;
  const mask = (f: (r: number, c: number) => boolean): Uint8Array => {
    const m = new Uint8Array(n * n);
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) m[r * n + c] = f(r, c) ? 1 : 0;
    return m;
  };
  return {
    rows: n,
    columns: n,
    body: mask((r, c) => Math.hypot(r - 256, c - 256) < 220),
    insideWall: mask((r, c) => Math.hypot(r - 256, c - 256) < 180),
    subcutaneousFat: mask((r, c) => { const d = Math.hypot(r - 256, c - 256); return d > 180 && d < 220; }),
    visceralFat: mask((r, c) => Math.hypot(r - 230, c - 256) < 60),
    erectorSpinae: mask((r, c) => r > 330 && r < 380 && Math.abs(c - 256) > 10 && Math.abs(c - 256) < 60),
  };
}

function sourceCtBytes(): ArrayBuffer {
  const b = fs.readFileSync(SOURCE_CT_FILE);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

describe('report: tissue Segmentation (SEG)', () => {
  it('packs bits LSB first across frame boundaries, padded to even length', () => {
    const packed = packBinaryFrames([new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 1]), new Uint8Array([1, 1])]);
    assert.deepEqual([...packed], [0b00000001, 0b00000111]);
    assert.equal(packBinaryFrames([new Uint8Array(17)]).length, 4);
  });

  it('binary SEG on the T11 grid: 0 dciodvfy errors; pydicom reads the same masks back', () => {
    const masks = ringMasks();
    const input = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62 }));
    const seg = buildTissueSegmentation(input, masks, sourceCtBytes(), { seriesInstanceUID: '2.25.601', sopInstanceUID: '2.25.602' });
    const file = write(seg, 'tissue-seg.dcm');
    assertValidDicom(file, 'tissue SEG');
    // An independent reader (pydicom 2.3, Debian) unpacks the 1-bit frames.
    const script = [
      'import json, sys, pydicom',
      'd = pydicom.dcmread(sys.argv[1]); a = d.pixel_array',
      'print(json.dumps({"shape": list(a.shape), "sums": a.reshape(a.shape[0], -1).sum(1).tolist(),',
      '  "labels": [s.SegmentLabel for s in d.SegmentSequence], "for": d.FrameOfReferenceUID,',
      '  "ref": d.SharedFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID,',
      '  "probe": [int(a[0, 256, 40]), int(a[0, 256, 256]), int(a[1, 230, 256]), int(a[2, 350, 220])]}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8' })) as {
      shape: number[]; sums: number[]; labels: string[]; for: string; ref: string; probe: number[];
    };
    const expected = [masks.subcutaneousFat, masks.visceralFat, masks.erectorSpinae].map((m) => m.reduce((a, b) => a + b, 0));
    console.log(`      SEG frames ${out.shape.join('x')}, pixels per segment ${out.sums.join('/')} (expected ${expected.join('/')})`);
    assert.deepEqual(out.shape, [3, 512, 512]);
    assert.deepEqual(out.sums, expected);
    assert.deepEqual(out.probe, [1, 0, 1, 1]);
    assert.deepEqual(out.labels, ['Subcutaneous adipose tissue', 'Visceral adipose tissue', 'Erector spinae muscle']);
    assert.equal(out.for, source.frameOfReferenceUID);
    assert.equal(out.ref, t11Sop);
  });

  it('rejects masks that do not match the referenced image grid', () => {
    const small: TissueMasks = { ...ringMasks(), rows: 256, columns: 1024 };
    const input = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62 }));
    assert.throws(
      () => buildTissueSegmentation(input, small, sourceCtBytes(), { seriesInstanceUID: '2.25.601', sopInstanceUID: '2.25.602' }),
      /tissue masks are 256x1024 but the referenced image is 512x512/,
    );
  });
});

describe('report: bundle (what a finished job sends)', () => {
  function overlayPng(width: number, height: number): Uint8Array {
    const png = new PNG({ width, height });
    for (let i = 0; i < width * height; i++) png.data.set([200, (i * 7) % 256, 40, 255], i * 4);
    return new Uint8Array(PNG.sync.write(png));
  }

  it('assessable with heatmap and masks: SR, ORU, SC and SEG, all 0 dciodvfy errors', () => {
    const analysis = { ...assessableAnalysis(t11Sop, { heightM: 1.62 }), masks: ringMasks() };
    const risk = { ...riskResult('at-or-above-cutoff'), heatmapPng: overlayPng(50, 40) };
    const bundle = buildReportBundle({
      input: reportInput(source, analysis, { risk }),
      oruHeader: ORU_HEADER,
      heatmapUids: { seriesInstanceUID: '2.25.801', sopInstanceUID: '2.25.802' },
      segmentation: { t11ImageP10: sourceCtBytes(), seriesInstanceUID: '2.25.803', sopInstanceUID: '2.25.804' },
    });
    assert.deepEqual(bundle.notes, []);
    assert.ok(bundle.heatmap && bundle.segmentation);
    assertValidDicom(write(bundle.sr, 'bundle-sr.dcm'), 'bundle SR');
    assertValidDicom(write(bundle.heatmap, 'bundle-sc.dcm'), 'bundle SC');
    assertValidDicom(write(bundle.segmentation, 'bundle-seg.dcm'), 'bundle SEG');
    const sc = readDataset(bundle.heatmap.bytes);
    assert.equal(sc['Rows'], 40);
    assert.equal(sc['Columns'], 50);
    assert.match(bundle.oru, /^MSH\|/);
  });

  it('not assessable, no heatmap: SR and ORU only, with notes saying why', () => {
    const bundle = buildReportBundle({
      input: reportInput(source, notAssessableAnalysis()),
      oruHeader: ORU_HEADER,
      heatmapUids: { seriesInstanceUID: '2.25.801', sopInstanceUID: '2.25.802' },
      segmentation: { t11ImageP10: sourceCtBytes(), seriesInstanceUID: '2.25.803', sopInstanceUID: '2.25.804' },
    });
    assert.equal(bundle.heatmap, null);
    assert.equal(bundle.segmentation, null);
    assert.deepEqual(bundle.notes, [
      'heatmap SC not built: the risk result has no heatmap',
      'tissue SEG not built: no tissue masks (not assessable)',
    ]);
  });

  it('refuses a SEG on an image other than the measured slice', () => {
    const analysis = { ...assessableAnalysis('2.25.999', { heightM: 1.62 }), masks: ringMasks() };
    assert.throws(
      () => buildReportBundle({
        input: reportInput(source, analysis),
        oruHeader: ORU_HEADER,
        segmentation: { t11ImageP10: sourceCtBytes(), seriesInstanceUID: '2.25.803', sopInstanceUID: '2.25.804' },
      }),
      /not the measured T11 slice/,
    );
  });
});

describe('report: objects accepted by a real PACS (Orthanc)', () => {
  it('source CT, SR, heatmap SC and tissue SEG land in one study as four series', async () => {
    const input = reportInput(source, assessableAnalysis(t11Sop, { heightM: 1.62 }), { risk: riskResult('below-cutoff') });
    const srFile = write(buildMeasurementReportSr(input), 'pacs-sr.dcm');
    const scFile = write(
      buildHeatmapSecondaryCapture(input, { rows: 40, columns: 50, rgb: new Uint8Array(40 * 50 * 3).fill(90) },
        { sopClassUID: source.sopClassUID, sopInstanceUID: t11Sop },
        { seriesInstanceUID: '2.25.501', sopInstanceUID: '2.25.502' }),
      'pacs-sc.dcm',
    );
    const segFile = write(
      buildTissueSegmentation(input, ringMasks(), sourceCtBytes(), { seriesInstanceUID: '2.25.601', sopInstanceUID: '2.25.602' }),
      'pacs-seg.dcm',
    );
    const orthanc = await startOrthanc();
    try {
      const peer = { host: '127.0.0.1', port: orthanc.dicomPort, aet: orthanc.aet };
      // storescu's default context list has no SEG storage: propose exactly the files' classes (-R).
      const ct = await storescu([SOURCE_CT_FILE], { ...peer, extraArgs: ['-xs'] });
      assert.equal(ct.code, 0, ct.output);
      const derived = await storescu([srFile, scFile, segFile], { ...peer, extraArgs: ['-R'] });
      assert.equal(derived.code, 0, derived.output);
      assert.equal(countOccurrences(derived.output, 'Received Store Response (Success)'), 3, derived.output);
      const studies = await orthanc.getJson<string[]>('/studies');
      assert.equal(studies.length, 1, 'SR and SC joined the source study');
      const series = await orthanc.getJson<Array<{ MainDicomTags: { Modality: string } }>>(`/studies/${studies[0]}/series`);
      const modalities = series.map((x) => x.MainDicomTags.Modality).sort();
      console.log(`      Orthanc study series modalities: ${modalities.join(', ')}`);
      assert.deepEqual(modalities, ['CT', 'OT', 'SEG', 'SR']);
    } finally {
      await orthanc.stop();
    }
  });
});

describe('report: ORU accepted by a real MLLP receiver (node-hl7-server)', () => {
  it('UTF-8 ORU arrives intact and is acknowledged AA', async () => {
    const input = reportInput({ ...source, patientName: 'Müller^Jörg' }, assessableAnalysis(t11Sop, { heightM: 1.62, sfi: 21.3 }), {
      risk: riskResult('below-cutoff'),
    });
    const text = buildOruR01(input, ORU_HEADER);
    const listener = await startMllpListener({ ackCode: 'AA' });
    const client = new Client({ host: listener.host });
    try {
      const ack = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no ACK within 10 s')), 10_000);
        const connection = client.createConnection({ port: listener.port, waitAck: true }, async (res) => {
          clearTimeout(timer);
          resolve(res.getMessage().toString());
        });
        connection.on('connect', () => {
          connection.sendMessage(new Message({ text })).catch(reject);
        });
      });
      assert.match(ack, /MSA\|AA\|BM0001/);
      assert.equal(listener.received.length, 1);
      const received = new Message({ text: listener.received[0]! });
      assert.equal(received.get('PID.5.1').toString(), 'Müller');
      assert.equal(received.get('OBX').length, new Message({ text }).get('OBX').length);
    } finally {
      client.closeAll();
      await listener.stop();
    }
  });
});
