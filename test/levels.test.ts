/**
 * Vertebral level finder on real CT series (read in place from ../shared/data, decoded by the
 * project's own volume loader). Prints every level with confidence and evidence.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { buildCtVolume } from '../src/analysis/volume.ts';
import { findVertebralLevels } from '../src/analysis/levels.ts';
import { countLevels, crossingShift, type Interval } from '../src/analysis/levels-count.ts';
import { buildWorkGrid } from '../src/analysis/levels-grid.ts';
import { trackSpine } from '../src/analysis/levels-spine.ts';
import type { RibPair, RibCrossing } from '../src/analysis/levels-ribs.ts';
import type { CtVolume, DicomInput, LevelFinding, LevelName } from '../src/analysis/types.ts';

const DATA = join(import.meta.dirname, '..', '..', 'shared', 'data', 'ct');
const CHEST_REF: Record<string, [number, number]> = JSON.parse(readFileSync(join(DATA, 'chest-ct-1', 'levels_all.json'), 'utf8'));

function readSeries(dir: string): DicomInput[] {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const b = readFileSync(join(dir, name));
      return { bytes: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, label: name };
    });
}

/** Same slices, only those whose z passes `keep` (what a PACS would send for a shorter scan range). */
function cropVolume(v: CtVolume, keep: (z: number) => boolean): CtVolume {
  const idx = v.sliceZMm.flatMap((z, i) => (keep(z) ? [i] : []));
  const plane = v.rows * v.columns;
  const hu = new Int16Array(plane * idx.length);
  const pad = new Uint8Array(plane * idx.length);
  idx.forEach((k, j) => {
    hu.set(v.hu.subarray(k * plane, (k + 1) * plane), j * plane);
    if (v.paddingMask.length) pad.set(v.paddingMask.subarray(k * plane, (k + 1) * plane), j * plane);
  });
  return {
    ...v,
    slices: idx.length,
    hu,
    paddingMask: pad,
    sliceZMm: idx.map((i) => v.sliceZMm[i]!),
    sopInstanceUIDs: idx.map((i) => v.sopInstanceUIDs[i]!),
    imagePositionPatient: idx.map((i) => v.imagePositionPatient[i]!),
  };
}

/** Thicker reconstruction of the same scan: average `n` adjacent slices (as a 2.5/5 mm series would be). */
function thickSlices(v: CtVolume, n: number): CtVolume {
  const plane = v.rows * v.columns;
  const m = Math.floor(v.slices / n);
  const hu = new Int16Array(plane * m);
  for (let j = 0; j < m; j++) {
    for (let p = 0; p < plane; p++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += v.hu[(j * n + i) * plane + p]!;
      hu[j * plane + p] = Math.round(s / n);
    }
  }
  const idx = Array.from({ length: m }, (_, j) => j * n);
  const z = idx.map((k) => v.sliceZMm.slice(k, k + n).reduce((a, b) => a + b, 0) / n);
  return {
    ...v,
    slices: m,
    hu,
    paddingMask: new Uint8Array(plane * m),
    sliceZMm: z,
    sliceSpacingMm: v.sliceSpacingMm * n,
    sopInstanceUIDs: idx.map((k) => v.sopInstanceUIDs[k]!),
    imagePositionPatient: idx.map((k, j) => [v.imagePositionPatient[k]![0], v.imagePositionPatient[k]![1], z[j]!]),
  };
}

/** A level named with a full body in view must have its mid-slice inside the reference body. */
function wrongLevels(f: LevelFinding): string[] {
  const wrong: string[] = [];
  for (const [name, l] of Object.entries(f.levels)) {
    const ref = CHEST_REF[name];
    if (!l || l.partial || !Array.isArray(ref)) continue;
    if (l.zMm < ref[0] || l.zMm > ref[1]) wrong.push(`${name} at ${l.zMm}`);
  }
  return wrong;
}

function printFinding(title: string, f: LevelFinding, ms?: number): void {
  console.log(`    [${title}] t11Assessable=${f.t11Assessable} reason=${f.reason ?? '-'}${ms !== undefined ? ` (${ms.toFixed(0)} ms)` : ''}`);
  for (const l of Object.values(f.levels)) {
    if (!l) continue;
    console.log(
      `      ${l.name.padEnd(3)} mid z ${l.zMm.toFixed(2).padStart(8)}  slices ${l.sliceRange[0]}-${l.sliceRange[1]}  confidence ${l.confidence.toFixed(2)}${l.partial ? '  PARTIAL' : ''}`,
    );
  }
  for (const e of f.evidence) console.log(`      - ${e}`);
}

function timed(v: CtVolume): { f: LevelFinding; ms: number } {
  const t = performance.now();
  const f = findVertebralLevels(v);
  return { f, ms: performance.now() - t };
}

function zRangeOf(v: CtVolume, f: LevelFinding, name: LevelName): [number, number] | null {
  const l = f.levels[name];
  if (!l) return null;
  const a = v.sliceZMm[l.sliceRange[0]]!;
  const b = v.sliceZMm[l.sliceRange[1]]!;
  return [Math.min(a, b), Math.max(a, b)];
}

describe('vertebral level finder', function () {
  let chest: CtVolume;
  let chestInputs: DicomInput[];

  before(async function () {
    chestInputs = readSeries(join(DATA, 'chest-ct-1', 'dicom'));
    chest = await buildCtVolume(chestInputs);
  });

  it('chest-ct-1: T11 mid-slice inside the reference body, T10/T12/L1 inside theirs, both rib counts agree', function () {
    const { f, ms } = timed(chest);
    printFinding('chest-ct-1', f, ms);
    assert.equal(f.t11Assessable, true, f.reason ?? '');
    const t11 = f.levels.T11!;
    console.log(`      T11 mid-slice z = ${t11.zMm} (accepted -275 .. -262; reference body -278.0 .. -259.0)`);
    assert.ok(t11.zMm >= -275 && t11.zMm <= -262, `T11 mid z ${t11.zMm}`);
    assert.equal(t11.partial, false);
    assert.ok(t11.confidence >= 0.9, 'both counts agree on this series');
    let inside = 0;
    let named = 0;
    for (const [name, range] of Object.entries(CHEST_REF)) {
      if (!Array.isArray(range)) continue; // the "note" entry
      const [lo, hi] = range;
      const l = f.levels[name as LevelName];
      if (!l) continue;
      named++;
      const ok = l.zMm >= lo && l.zMm <= hi;
      if (ok) inside++;
      console.log(`      ${name.padEnd(3)} mid z ${l.zMm.toFixed(2)} reference ${lo} .. ${hi} ${ok ? 'inside' : 'OUTSIDE'}`);
    }
    console.log(`      mid-slices inside the reference body: ${inside}/${named} levels (T1-L1 reference)`);
    for (const name of ['T10', 'T12', 'L1'] as const) {
      const [lo, hi] = CHEST_REF[name]!;
      const l = f.levels[name];
      assert.ok(l, `${name} found`);
      assert.ok(l.zMm >= lo && l.zMm <= hi, `${name} mid z ${l.zMm} not in ${lo}..${hi}`);
    }
    assert.ok(f.levels.T4, 'T4 found');
    assert.equal(inside, named, 'every named level mid-slice inside its reference body');
  });

  it('chest-ct-1 shuffled, with fresh Study/Series/SOP UIDs: same levels', async function () {
    const { DicomMessage, DicomMetaDictionary, DicomDict } = dcmjs.data;
    const newUid = (): string => `2.25.${BigInt('0x' + crypto.randomUUID().replace(/-/g, '')).toString()}`;
    const study = newUid();
    const series = newUid();
    const rewritten: DicomInput[] = chestInputs.map((input) => {
      const dict = DicomMessage.readFile(input.bytes);
      const ds = DicomMetaDictionary.naturalizeDataset(dict.dict);
      const meta = DicomMetaDictionary.naturalizeDataset(dict.meta);
      const sop = newUid();
      ds.SOPInstanceUID = sop;
      ds.SeriesInstanceUID = series;
      ds.StudyInstanceUID = study;
      meta.MediaStorageSOPInstanceUID = sop;
      const out = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
      out.dict = DicomMetaDictionary.denaturalizeDataset(ds);
      return { bytes: out.write() as ArrayBuffer, label: 'rewritten' };
    });
    // Deterministic shuffle (seeded LCG) so a failure can be reproduced.
    let seed = 12345;
    for (let i = rewritten.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [rewritten[i], rewritten[j]] = [rewritten[j]!, rewritten[i]!];
    }
    const v = await buildCtVolume(rewritten);
    assert.equal(v.seriesInstanceUID, series);
    const { f, ms } = timed(v);
    const ref = findVertebralLevels(chest);
    printFinding('chest-ct-1 shuffled + fresh UIDs', f, ms);
    assert.equal(f.t11Assessable, ref.t11Assessable);
    for (const name of Object.keys(ref.levels) as LevelName[]) {
      assert.deepEqual(f.levels[name]?.sliceRange, ref.levels[name]!.sliceRange, name);
      assert.equal(f.levels[name]?.zMm, ref.levels[name]!.zMm, name);
    }
    assert.equal(f.levels.T11!.sopInstanceUID, v.sopInstanceUIDs[f.levels.T11!.midSliceIndex]);
    assert.notEqual(f.levels.T11!.sopInstanceUID, ref.levels.T11!.sopInstanceUID, 'fresh UIDs are reported');
  });

  it('chest-ct-1 with rows and columns reversed (orientation -1\\0\\0\\0\\-1\\0): same levels', function () {
    const { rows, columns, slices } = chest;
    const plane = rows * columns;
    const hu = new Int16Array(chest.hu.length);
    for (let k = 0; k < slices; k++) {
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < columns; c++) hu[k * plane + r * columns + c] = chest.hu[k * plane + (rows - 1 - r) * columns + (columns - 1 - c)]!;
      }
    }
    const flipped: CtVolume = { ...chest, hu, paddingMask: new Uint8Array(0), imageOrientationPatient: [-1, 0, 0, 0, -1, 0] };
    const { f, ms } = timed(flipped);
    const ref = findVertebralLevels(chest);
    console.log(`      flipped: T11 mid z ${f.levels.T11?.zMm} (unflipped ${ref.levels.T11?.zMm}), ${ms.toFixed(0)} ms; ${f.evidence.find((e) => e.includes('rib pair(s)'))}`);
    assert.equal(f.t11Assessable, true, f.reason ?? '');
    assert.ok(Math.abs(f.levels.T11!.zMm - ref.levels.T11!.zMm) <= 2.5, 'same T11 within two slices');
    assert.deepEqual(wrongLevels(f), []);
  });

  it('chest-ct-1 below z -150 (T1 not in view): T11 by the bottom-up count, or not assessable, never wrong', function () {
    const v = cropVolume(chest, (z) => z < -150);
    const { f, ms } = timed(v);
    printFinding('chest-ct-1 below -150', f, ms);
    if (f.t11Assessable) {
      const z = f.levels.T11!.zMm;
      console.log(`      T11 mid-slice z = ${z}`);
      assert.ok(z >= -275 && z <= -262, `T11 mid z ${z}`);
    }
    for (const name of ['T10', 'T11', 'T12', 'L1'] as const) {
      const l = f.levels[name];
      if (!l || l.partial) continue;
      const [lo, hi] = CHEST_REF[name]!;
      assert.ok(l.zMm >= lo && l.zMm <= hi, `${name} mid z ${l.zMm} not in ${lo}..${hi}`);
    }
    assert.equal(f.levels.T1, undefined, 'T1 is not in view');
  });

  it('chest-ct-1 above z -240 (T11 not in view): not assessable with a reason', function () {
    const v = cropVolume(chest, (z) => z > -240);
    const { f, ms } = timed(v);
    printFinding('chest-ct-1 above -240', f, ms);
    assert.equal(f.t11Assessable, false);
    assert.match(f.reason ?? '', /T11/);
    assert.equal(f.levels.T11, undefined);
    for (const [name, l] of Object.entries(f.levels)) {
      if (!l || l.partial) continue;
      const [lo, hi] = CHEST_REF[name]!;
      assert.ok(l.zMm >= lo && l.zMm <= hi, `${name} mid z ${l.zMm} not in ${lo}..${hi}`);
    }
  });

  it('chest-ct-1 as 2.5, 3.75 and 5 mm reconstructions: T11 inside the body or not assessable', function () {
    for (const n of [2, 3, 4]) {
      const v = thickSlices(chest, n);
      const { f, ms } = timed(v);
      const t11 = f.levels.T11;
      console.log(
        `      ${(1.25 * n).toFixed(2)} mm: ${f.t11Assessable ? `T11 mid z ${t11!.zMm.toFixed(2)}, confidence ${t11!.confidence}` : `not assessable: ${f.reason}`} (${ms.toFixed(0)} ms)`,
      );
      if (f.t11Assessable) assert.ok(t11!.zMm >= -275 && t11!.zMm <= -262, `T11 mid z ${t11!.zMm} at ${1.25 * n} mm`);
      if (f.t11Assessable) assert.deepEqual(wrongLevels(f), []);
    }
  });

  it('chest-ct-1 cropped to 12 other fields of view: never a wrong T11 (printed: how often T11 is given)', function () {
    let given = 0;
    let total = 0;
    for (const top of [-31, -60, -150, -230]) {
      for (const bottom of [-350, -318, -290]) {
        const v = cropVolume(chest, (z) => z <= top && z >= bottom);
        const f = findVertebralLevels(v);
        total++;
        const t11 = f.levels.T11;
        if (f.t11Assessable) given++;
        console.log(
          `      z ${top} .. ${bottom}: ${f.t11Assessable ? `T11 mid z ${t11!.zMm.toFixed(2)} (confidence ${t11!.confidence})` : `not assessable: ${f.reason}`}`,
        );
        if (f.t11Assessable) {
          assert.ok(t11!.zMm >= -275 && t11!.zMm <= -262, `T11 mid z ${t11!.zMm} for crop ${top}..${bottom}`);
          assert.deepEqual(wrongLevels(f), [], `crop ${top}..${bottom}`);
        }
      }
    }
    console.log(`      T11 given on ${given}/${total} fields of view, wrong on 0`);
  });

  it('chest-ct-1 with a contrast-dense (350 HU) aorta-like tube beside the spine: the tube is not taken for the spine', function () {
    // Arterial contrast makes the descending aorta as dense and as persistent as bone; place a
    // 26 mm tube 28 mm anterior and 22 mm left of the vertebral body centre in every slice.
    const grid = buildWorkGrid(chest);
    const track = trackSpine(grid);
    const scale = grid.pixelMm[0] / chest.pixelSpacingMm[0];
    const px = chest.pixelSpacingMm[0];
    const hu = Int16Array.from(chest.hu);
    for (let k = 0; k < chest.slices; k++) {
      const r0 = track.bodyRow[k]! * scale - 28 / px;
      const c0 = track.bodyCol[k]! * scale + 22 / px;
      for (let r = Math.floor(r0 - 13 / px); r <= r0 + 13 / px; r++) {
        for (let c = Math.floor(c0 - 13 / px); c <= c0 + 13 / px; c++) {
          if (((r - r0) ** 2 + (c - c0) ** 2) * px * px <= 169) hu[k * chest.rows * chest.columns + r * chest.columns + c] = 350;
        }
      }
    }
    const { f, ms } = timed({ ...chest, hu });
    printFinding('chest-ct-1 + dense aorta', f, ms);
    if (f.t11Assessable) assert.ok(f.levels.T11!.zMm >= -275 && f.levels.T11!.zMm <= -262, `T11 mid z ${f.levels.T11!.zMm}`);
    assert.deepEqual(wrongLevels(f), []);
    assert.equal(f.t11Assessable, true, 'the spine is still found');
  });

  it('chest-ct-1 with its 12th ribs erased (as in a patient with 11 rib pairs): never a wrong T11', function () {
    // Replace bone beside the spine between z -288 and -319 (both 12th ribs near the spine, and
    // nothing of L1) by soft tissue. A correct count now sees 11 rib pairs; the bottom-up count
    // alone would take T11 for T12, so it must not be trusted on its own either.
    const grid = buildWorkGrid(chest);
    const track = trackSpine(grid);
    const scale = grid.pixelMm[0] / chest.pixelSpacingMm[0];
    const px = chest.pixelSpacingMm[0];
    const hu = Int16Array.from(chest.hu);
    const plane = chest.rows * chest.columns;
    for (let k = 0; k < chest.slices; k++) {
      const z = chest.sliceZMm[k]!;
      if (z > -288 || z < -319) continue;
      const br = track.bodyRow[k]! * scale;
      const bc = track.bodyCol[k]! * scale;
      for (let r = 0; r < chest.rows; r++) {
        if ((r - br) * px < -10) continue;
        for (let c = 0; c < chest.columns; c++) {
          const lat = Math.abs(c - bc) * px;
          const i = k * plane + r * chest.columns + c;
          if (lat >= 25 && lat <= 140 && hu[i]! > 150) hu[i] = 40;
        }
      }
    }
    const full = { ...chest, hu };
    for (const [title, v] of [
      ['chest-ct-1 without 12th ribs', full],
      ['chest-ct-1 without 12th ribs, below z -150', cropVolume(full, (z) => z < -150)],
    ] as const) {
      const { f, ms } = timed(v);
      printFinding(title, f, ms);
      if (f.t11Assessable) {
        // T11 is still the 11th thoracic vertebra; with 11 rib pairs the only safe answers are the
        // true T11 body or "not assessable".
        assert.ok(f.levels.T11!.zMm >= -275 && f.levels.T11!.zMm <= -262, `${title}: T11 mid z ${f.levels.T11!.zMm}`);
      }
      // What the finder does today: it notices (counts disagree / no lumbar transverse processes).
      assert.equal(f.t11Assessable, false, title);
      assert.deepEqual(wrongLevels(f), [], title);
    }
  });

  it('chest-ct-1 with 8 slices missing at T9 (incomplete transfer): not assessable, says why', function () {
    const v = cropVolume(chest, (z) => z > -215 || z < -225);
    const { f, ms } = timed(v);
    printFinding('chest-ct-1 minus z -215..-225', f, ms);
    assert.equal(f.t11Assessable, false);
    assert.match(f.reason ?? '', /slices missing/);
  });

  it('totalseg-abdomen (L2 to T12, T11 body above the field of view): never T11 on another vertebra', async function () {
    const v = await buildCtVolume(readSeries(join(DATA, 'totalseg-abdomen', 'dicom')));
    const { f, ms } = timed(v);
    printFinding('totalseg-abdomen', f, ms);
    const t11 = zRangeOf(v, f, 'T11');
    if (t11) {
      // Only the top edge (z >= 175.3) carries T11 labels, and only its posterior elements.
      assert.ok(t11[0] >= 175.3, `T11 placed at z ${t11[0]}..${t11[1]}`);
      assert.equal(f.levels.T11!.partial, true);
    }
    assert.equal(f.t11Assessable, false);
    assert.ok(f.reason && f.reason.length > 0);
  });

  it('j2k-ct dicom_fixed (38 mm slab at the T11/T12 junction): no T12 slice called T11', async function () {
    const v = await buildCtVolume(readSeries(join(DATA, 'j2k-ct', 'dicom_fixed')));
    const { f, ms } = timed(v);
    printFinding('j2k-ct dicom_fixed', f, ms);
    const t11 = zRangeOf(v, f, 'T11');
    if (t11) assert.ok(t11[0] > -778.5, `T11 placed down to z ${t11[0]} (T12 body starts at -778.5)`);
    if (f.t11Assessable) assert.ok(f.levels.T11!.zMm > -778.5);
    assert.equal(f.t11Assessable, false, 'no rib count is possible on this slab');
  });
});

describe('vertebral numbering from rib pairs (synthetic counts)', function () {
  // 24 mm vertebrae at 1 mm slices; discs at 10, 34, 58, ...; each rib crosses the paravertebral
  // band where the anatomical model puts it (above the body for upper ribs, below for lower ones).
  const pitch = 24;
  function scene(ribCount: number, firstVertebra: number): { intervals: Interval[]; pairs: RibPair[] } {
    const discs = Array.from({ length: ribCount + 4 }, (_, i) => 10 + i * pitch);
    const intervals: Interval[] = [{ upper: 0, lower: discs[0]!, partial: true }];
    for (let i = 1; i < discs.length; i++) intervals.push({ upper: discs[i - 1]!, lower: discs[i]!, partial: false });
    const crossing = (side: 'right' | 'left', slice: number, reachMm: number): RibCrossing => ({
      side,
      slice,
      firstSlice: slice - 5,
      lastSlice: slice + 5,
      reachMm,
      reachTruncated: false,
      atEdge: false,
    });
    const pairs: RibPair[] = [];
    for (let i = 0; i < ribCount; i++) {
      const mid = (discs[firstVertebra + i - 1]! + discs[firstVertebra + i]!) / 2 + crossingShift(Math.min(12, i + 1)) * pitch;
      // first rib short, last rib short and floating, the rest long
      const reach = i === 0 ? 60 : i === ribCount - 1 ? 60 : 120;
      pairs.push({ slice: mid, right: crossing('right', mid, reach), left: crossing('left', mid, reach) });
    }
    return { intervals, pairs };
  }
  const run = (ribCount: number) => {
    const s = scene(ribCount, 1);
    return countLevels({ ...s, slices: s.intervals[s.intervals.length - 1]!.lower + 1, sliceMm: 1, zAt: (k) => -k });
  };

  it('12 rib pairs: counts agree, T11 on the 11th vertebra', function () {
    const r = run(12);
    console.log(`      12 pairs: confidence ${r.t11Confidence}, reason ${r.reason ?? '-'}`);
    assert.equal(r.reason, null);
    assert.ok(r.t11Confidence >= 0.9);
    assert.equal(r.named.find((n) => n.name === 'T11')?.interval, 11);
    assert.equal(r.named.find((n) => n.name === 'L1')?.interval, 13);
  });

  it('12 rib pairs but the vertebra read as T12 has lumbar transverse processes: not assessable', function () {
    const sc = scene(12, 1);
    const slices = sc.intervals[sc.intervals.length - 1]!.lower + 1;
    const band = { right: new Float64Array(slices), left: new Float64Array(slices) };
    for (const iv of [sc.intervals[12]!, sc.intervals[13]!]) {
      // processes on "T12" (interval 12) and on L1 (interval 13)
      const k = Math.round((iv.upper + iv.lower) / 2);
      band.right[k] = 60;
      band.left[k] = 60;
    }
    const r = countLevels({ ...sc, slices, sliceMm: 1, zAt: (k) => -k, nonRibBandMm3: band });
    console.log(`      T12 with transverse processes: confidence ${r.t11Confidence}, reason ${r.reason}`);
    assert.ok(r.t11Confidence < 0.6);
    assert.match(r.reason ?? '', /looks lumbar/);
  });

  it('bottom-up only with a short lumbar rib below a short 12th rib: not assessable', function () {
    const sc = scene(13, 1);
    const reaches = sc.pairs.map((_, i) => (i === 12 ? 40 : i === 11 ? 60 : 120)); // no short first rib: no top-down count
    const pairs = sc.pairs.map((p, i) => ({
      ...p,
      right: p.right && { ...p.right, reachMm: reaches[i]! },
      left: p.left && { ...p.left, reachMm: reaches[i]! },
    }));
    const slices = sc.intervals[sc.intervals.length - 1]!.lower + 1;
    const band = { right: new Float64Array(slices), left: new Float64Array(slices) };
    const l2 = sc.intervals[14]!; // transverse processes on the vertebra below the lowest pair
    band.right[Math.round((l2.upper + l2.lower) / 2)] = 60;
    band.left[Math.round((l2.upper + l2.lower) / 2)] = 60;
    const r = countLevels({ intervals: sc.intervals, pairs, slices, sliceMm: 1, zAt: (k) => -k, nonRibBandMm3: band });
    console.log(`      lumbar rib, bottom-up only: confidence ${r.t11Confidence}, reason ${r.reason}`);
    assert.ok(r.t11Confidence < 0.6);
    assert.match(r.reason ?? '', /lumbar rib/);
  });

  for (const ribCount of [11, 13]) {
    it(`${ribCount} rib pairs: the counts disagree and T11 is not assessable`, function () {
      const r = run(ribCount);
      console.log(`      ${ribCount} pairs: confidence ${r.t11Confidence}, reason ${r.reason}`);
      assert.ok(r.t11Confidence < 0.6);
      assert.match(r.reason ?? '', /disagree/);
    });
  }
});
