/**
 * QA picture for a reader: a mid-sagittal reformat through the spine with the found vertebral levels
 * (lines + labels, T11 in red, the measured slice in yellow) beside the measured axial slice with SAT
 * (yellow), VAT (red), erector spinae (green) and the muscle wall (blue), plus the numbers.
 * Pure: returns PNG bytes (pngjs). Text uses the project's 5x7 bitmap font (util/bitmap-font.ts).
 */
import { PNG } from 'pngjs';
import { drawText } from '../util/bitmap-font.ts';
import type { AnalysisResult, CtVolume, LevelName, TissueMasks } from './types.ts';
import { PADDING_HU } from './types.ts';

type Rgb = [number, number, number];

class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 4);
    for (let i = 3; i < this.data.length; i += 4) this.data[i] = 255;
  }
  set(x: number, y: number, c: Rgb, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (Math.floor(y) * this.width + Math.floor(x)) * 4;
    for (let k = 0; k < 3; k++) this.data[o + k] = Math.round(this.data[o + k]! * (1 - alpha) + c[k]! * alpha);
  }
  hline(x0: number, x1: number, y: number, c: Rgb): void {
    for (let x = x0; x <= x1; x++) this.set(x, y, c);
  }
  text(x: number, y: number, s: string, c: Rgb, scale = 2): void {
    drawText(s.toUpperCase().replace(/²/g, '2'), x, y, scale, (px, py) => this.set(px, py, c));
  }
}

const WHITE: Rgb = [255, 255, 255];
const YELLOW: Rgb = [255, 220, 0];
const RED: Rgb = [255, 60, 60];
const GREEN: Rgb = [60, 220, 60];
const BLUE: Rgb = [60, 150, 255];
const CYAN: Rgb = [0, 220, 220];
const GREY: Rgb = [170, 170, 170];

function windowed(hu: number, level: number, width: number): number {
  const v = ((hu - (level - width / 2)) / width) * 255;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Column of the spine: most bone in the posterior half of the central columns, over a sample of slices. */
function spineColumn(volume: CtVolume): number {
  const { rows, columns, slices, hu } = volume;
  const n = rows * columns;
  const score = new Float64Array(columns);
  const step = Math.max(1, Math.floor(slices / 40));
  for (let k = 0; k < slices; k += step) {
    for (let r = Math.floor(rows / 2); r < rows; r++) {
      for (let c = Math.floor(columns * 0.3); c < Math.ceil(columns * 0.7); c++) {
        if (hu[k * n + r * columns + c]! >= 250) score[c]! += 1;
      }
    }
  }
  let best = Math.floor(columns / 2);
  for (let c = 0; c < columns; c++) if (score[c]! > score[best]!) best = c;
  return best;
}

/** Slice index -> sagittal panel row, in physical proportion (pixel height = in-plane row spacing). */
function sagittalScale(volume: CtVolume): { height: number; rowOfZ: (z: number) => number; sliceAtRow: (y: number) => number } {
  const z0 = volume.sliceZMm[0] ?? 0;
  const z1 = volume.sliceZMm[volume.slices - 1] ?? z0;
  const mmPerPixel = volume.pixelSpacingMm[0];
  const span = Math.abs(z0 - z1);
  const height = Math.max(1, Math.round(span / mmPerPixel) + 1);
  const rowOfZ = (z: number) => Math.round(Math.abs(z0 - z) / mmPerPixel);
  // Nearest slice by z (slices may be unevenly spaced).
  const sliceAtRow = (y: number) => {
    const z = z0 - Math.sign(z0 - z1 || 1) * y * mmPerPixel;
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < volume.slices; k++) {
      const d = Math.abs(volume.sliceZMm[k]! - z);
      if (d < bestD) (bestD = d), (best = k);
    }
    return best;
  };
  return { height, rowOfZ, sliceAtRow };
}

function outline(mask: Uint8Array, i: number, columns: number): boolean {
  return !!mask[i] && (!mask[i - 1] || !mask[i + 1] || !mask[i - columns] || !mask[i + columns]);
}

/** Greedy word wrap for the bitmap font (fixed character width). */
function wrap(text: string, perLine: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current && current.length + 1 + word.length > perLine) {
      lines.push(current);
      current = '';
    }
    current = current ? `${current} ${word}` : word.slice(0, perLine);
  }
  if (current) lines.push(current);
  return lines;
}

function fmt(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? '-' : x.toFixed(digits);
}

export function renderQaPng(volume: CtVolume, result: AnalysisResult): Uint8Array {
  const { rows, columns, slices, hu } = volume;
  const n = rows * columns;
  const sag = sagittalScale(volume);
  const sagWidth = rows; // anterior (left of panel) -> posterior (right)
  const textHeight = 140;
  const panelHeight = Math.max(sag.height, rows);
  const width = sagWidth + columns + 10;
  const canvas = new Canvas(width, panelHeight + textHeight);

  // Sagittal panel: slab mean of +-2 columns around the spine column, bone-and-soft-tissue window.
  const spineCol = spineColumn(volume);
  const rowSlice: number[] = [];
  for (let y = 0; y < sag.height; y++) rowSlice.push(sag.sliceAtRow(y));
  for (let y = 0; y < sag.height; y++) {
    const k = rowSlice[y]!;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      let m = 0;
      for (let dc = -2; dc <= 2; dc++) {
        const c = spineCol + dc;
        if (c < 0 || c >= columns) continue;
        s += hu[k * n + r * columns + c]!;
        m++;
      }
      const g = windowed(m ? s / m : -1000, 300, 1600);
      canvas.set(r, y, [g, g, g]);
    }
  }
  const levelNames = Object.keys(result.levelFinding.levels) as LevelName[];
  for (const name of levelNames) {
    const lv = result.levelFinding.levels[name]!;
    const colour = name === 'T11' ? RED : CYAN;
    const yTop = sag.rowOfZ(volume.sliceZMm[lv.sliceRange[0]] ?? lv.zMm);
    const yBottom = sag.rowOfZ(volume.sliceZMm[lv.sliceRange[1]] ?? lv.zMm);
    const yMid = sag.rowOfZ(lv.zMm);
    canvas.hline(sagWidth - 60, sagWidth - 45, yTop, colour);
    canvas.hline(sagWidth - 60, sagWidth - 45, yBottom, colour);
    for (let y = yTop; y <= yBottom; y++) canvas.set(sagWidth - 60, y, colour);
    // Dashed so the anatomy under the line stays readable.
    for (let x = 0; x < sagWidth - 61; x += 6) canvas.hline(x, x + 2, yMid, colour);
    canvas.text(sagWidth - 42, yMid - 7, name + (lv.partial ? '?' : ''), colour, 2);
  }
  if (result.measuredSlice) {
    const y = sag.rowOfZ(result.measuredSlice.zMm);
    for (let x = 0; x < sagWidth; x += 2) canvas.set(x, y, YELLOW);
  }

  // Axial panel: measured slice (else the middle slice), soft-tissue window, translucent masks.
  const x0 = sagWidth + 10;
  const k = result.measuredSlice?.sliceIndex ?? Math.floor(slices / 2);
  const masks: TissueMasks | null = result.masks;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      const g = hu[k * n + i] === PADDING_HU ? 0 : windowed(hu[k * n + i]!, 40, 400);
      canvas.set(x0 + c, r, [g, g, g]);
      if (!masks) continue;
      if (masks.subcutaneousFat[i]) canvas.set(x0 + c, r, YELLOW, 0.45);
      else if (masks.visceralFat[i]) canvas.set(x0 + c, r, RED, 0.45);
      else if (masks.erectorSpinae[i]) canvas.set(x0 + c, r, GREEN, 0.5);
      if (outline(masks.insideWall, i, columns)) canvas.set(x0 + c, r, BLUE);
    }
  }
  canvas.text(x0 + 4, 4, 'R', WHITE, 2);
  canvas.text(x0 + columns - 16, 4, 'L', WHITE, 2);
  canvas.text(4, 4, 'A', WHITE, 2);
  canvas.text(sagWidth - 16, 4, 'P', WHITE, 2);

  // Numbers.
  let y = panelHeight + 8;
  const line = (s: string, c: Rgb = WHITE) => {
    canvas.text(8, y, s, c, 2);
    y += 18;
  };
  const ms = result.measuredSlice;
  if (result.assessable && ms && result.bodyComposition) {
    const bc = result.bodyComposition;
    line(
      `MEASURED AT ${ms.source === 'override' ? 'OVERRIDE SLICE' : 'T11'} Z ${fmt(ms.zMm)} MM` +
        (ms.confidence !== null ? ` CONF ${fmt(ms.confidence, 2)}` : ''),
    );
    line(`SFA ${fmt(bc.sfaCm2)} CM2  SFI ${fmt(bc.sfiCm2M2)}`, YELLOW);
    line(`VFA ${fmt(bc.vfaCm2)} CM2  VFI ${fmt(bc.vfiCm2M2)}`, RED);
    line(`ESMA ${fmt(bc.esmaCm2)} CM2  ESMI ${fmt(bc.esmiCm2M2)}`, GREEN);
    line(bc.heightM ? `HEIGHT ${fmt(bc.heightM, 2)} M (${bc.heightSource})` : 'HEIGHT UNKNOWN: NO INDICES', GREY);
  } else {
    line(`NOT ASSESSABLE (AXIAL PANEL: MIDDLE SLICE ${k + 1}/${slices}, NO MEASUREMENT)`, RED);
    for (const l of wrap(result.reason ?? '', Math.floor((width - 16) / 12)).slice(0, 3)) line(l, GREY);
  }
  for (const w of result.warnings.slice(0, 2)) {
    for (const l of wrap(`! ${w}`, Math.floor((width - 16) / 12))) {
      if (y > canvas.height - 16) break;
      line(l, GREY);
    }
  }

  const png = new PNG({ width: canvas.width, height: canvas.height });
  png.data = Buffer.from(canvas.data.buffer, canvas.data.byteOffset, canvas.data.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}
