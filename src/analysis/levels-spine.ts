/**
 * Spine centre line: where the vertebral body is in every slice (its anteroposterior middle,
 * where the disc profile is read, see levels-discs.ts). Pure: no I/O.
 *
 * Why persistence: along a short head-foot slab, the spine is the one bony structure that stays
 * in the same place (ribs, scapulae and the sternum move or lie elsewhere), so "bone in most
 * slices of the slab, near the midline, in the posterior half of the body" finds it without
 * any prior about the scanner or the field of view.
 */
import type { BodyOutline, WorkGrid } from './levels-grid.ts';
import { boxFilter, chamferDistanceMm, median } from './levels-image.ts';

export interface SpineTrack {
  /** Per slice: vertebral body centre on the work grid (fractional row/column). NaN when unknown. */
  bodyRow: Float64Array;
  bodyCol: Float64Array;
  /** Per slice: estimated vertebral body radius in mm (depth of the body from the distance transform). */
  bodyRadiusMm: Float64Array;
  /** How many anchor slabs found a spine; the others were interpolated. */
  anchorsFound: number;
  anchorsTotal: number;
}

const BONE_HU = 150;
/** Mean HU over a slab above which a voxel is counted as vertebral body (trabecular bone + discs averaged). */
const SLAB_BODY_HU = 75;
const ANCHOR_STEP_MM = 6;
const SLAB_HALF_MM = 15;

interface Anchor {
  slice: number;
  found: boolean;
  row: number;
  col: number;
  radiusMm: number;
}

export function trackSpine(grid: WorkGrid): SpineTrack {
  const { slices } = grid;
  const step = Math.max(1, Math.round(ANCHOR_STEP_MM / grid.sliceMm));
  const anchors: Anchor[] = [];
  const slab = new SlabWindow(grid);
  for (let k = Math.min(Math.floor(step / 2), slices - 1); k < slices; k += step) anchors.push(findAnchor(grid, k, slab));
  rejectOutliers(anchors, grid);
  smoothAnchors(anchors);

  const bodyRow = new Float64Array(slices).fill(NaN);
  const bodyCol = new Float64Array(slices).fill(NaN);
  const bodyRadiusMm = new Float64Array(slices).fill(NaN);
  const good = anchors.filter((a) => a.found);
  if (good.length > 0) {
    for (let k = 0; k < slices; k++) {
      // Linear interpolation between found anchors, constant beyond the ends.
      let j = 0;
      while (j < good.length - 1 && good[j + 1]!.slice <= k) j++;
      const a = good[j]!;
      const b = good[Math.min(j + 1, good.length - 1)]!;
      const t = b.slice === a.slice ? 0 : Math.min(1, Math.max(0, (k - a.slice) / (b.slice - a.slice)));
      bodyRow[k] = a.row + t * (b.row - a.row);
      bodyCol[k] = a.col + t * (b.col - a.col);
      bodyRadiusMm[k] = a.radiusMm + t * (b.radiusMm - a.radiusMm);
    }
  }
  return { bodyRow, bodyCol, bodyRadiusMm, anchorsFound: good.length, anchorsTotal: anchors.length };
}

/**
 * Running sums over a head-foot slab of +-SLAB_HALF_MM: bone occupancy and HU (clamped). Anchors
 * are visited in slice order, so each slice is added and removed once (fast on long series).
 */
class SlabWindow {
  readonly persist: Float32Array;
  readonly huSum: Float32Array;
  private k0 = 0;
  private k1 = -1;
  private readonly half: number;
  constructor(private readonly grid: WorkGrid) {
    const plane = grid.rows * grid.columns;
    this.persist = new Float32Array(plane);
    this.huSum = new Float32Array(plane);
    this.half = Math.max(1, Math.round(SLAB_HALF_MM / grid.sliceMm));
  }
  /** Moves the window to centre k; returns the number of slices in it. */
  moveTo(k: number): number {
    const want0 = Math.max(0, k - this.half);
    const want1 = Math.min(this.grid.slices - 1, k + this.half);
    while (this.k1 < want1) this.apply(++this.k1, 1);
    while (this.k0 < want0) this.apply(this.k0++, -1);
    return this.k1 - this.k0 + 1;
  }
  private apply(s: number, sign: 1 | -1): void {
    const { hu, bodyMask } = this.grid;
    const plane = this.grid.rows * this.grid.columns;
    const base = s * plane;
    const persist = this.persist;
    const huSum = this.huSum;
    for (let p = 0; p < plane; p++) {
      const v = hu[base + p]!;
      if (v > BONE_HU && bodyMask[base + p]) persist[p]! += sign;
      huSum[p]! += sign * (v < -200 ? -200 : v > 1000 ? 1000 : v);
    }
  }
}

function findAnchor(grid: WorkGrid, k: number, slab: SlabWindow): Anchor {
  const none: Anchor = { slice: k, found: false, row: NaN, col: NaN, radiusMm: NaN };
  const count = slab.moveTo(k);
  const outline = grid.body[k]!;
  if (!outline.found) return none;
  // Strongest persistent-bone spots first; the first one that has a vertebral body with a spinal
  // canal behind it is the spine (a contrast-filled aorta is persistent and dense too, but what
  // lies behind it is the vertebral body, not a canal).
  for (const spot of persistentBoneSpots(grid, slab, outline, count)) {
    const body = vertebralBodyNear(grid, slab, count, spot.row, spot.col);
    if (body) return { slice: k, found: true, ...body };
  }
  return none;
}

/** Up to three local maxima (>= 20 mm apart) of box-filtered bone persistence in the posterior-central body. */
function persistentBoneSpots(grid: WorkGrid, slab: SlabWindow, outline: BodyOutline, count: number): { row: number; col: number }[] {
  const { rows, columns: cols } = grid;
  // Box-filter the persistence so a whole vertebra outranks a thin persistent line (table edge, rib).
  const boxR = Math.max(1, Math.round(5 / grid.pixelMm[0]));
  const boxC = Math.max(1, Math.round(5 / grid.pixelMm[1]));
  const smooth = boxFilter(slab.persist, rows, cols, boxR, boxC);
  const width = outline.maxCol - outline.minCol;
  const depth = outline.maxRow - outline.minRow;
  const postSign = grid.posteriorRowSign;
  const spots: { row: number; col: number; value: number }[] = [];
  const sepR = 20 / grid.pixelMm[0];
  const sepC = 20 / grid.pixelMm[1];
  for (let n = 0; n < 3; n++) {
    let bestP = -1;
    let bestVal = 0;
    for (let r = outline.minRow; r <= outline.maxRow; r++) {
      // Posterior half of the body: the sternum and anterior structures are never the spine.
      if ((r - outline.centreRow) * postSign < -0.05 * depth) continue;
      for (let c = outline.minCol; c <= outline.maxCol; c++) {
        if (Math.abs(c - outline.centreCol) > 0.2 * width) continue;
        if (spots.some((s) => Math.abs(s.row - r) < sepR && Math.abs(s.col - c) < sepC)) continue;
        const v = smooth[r * cols + c]!;
        if (v > bestVal) {
          bestVal = v;
          bestP = r * cols + c;
        }
      }
    }
    // At least ~40 % bone occupancy over the box and the slab: otherwise there is no spine here.
    if (bestP < 0 || bestVal < 0.4 * count) break;
    const row = (bestP / cols) | 0;
    spots.push({ row, col: bestP - row * cols, value: bestVal });
  }
  return spots;
}

/**
 * The vertebral body next to a persistent-bone spot: the thickest bony structure (deepest point of
 * the distance transform of the slab-mean bone mask; posterior elements and ribs are thin), with
 * a spinal canal behind it. Null when there is none.
 */
function vertebralBodyNear(
  grid: WorkGrid,
  slab: SlabWindow,
  count: number,
  spineRow: number,
  spineCol: number,
): { row: number; col: number; radiusMm: number } | null {
  const { rows, columns: cols } = grid;
  const huSum = slab.huSum;
  const winR = Math.round(60 / grid.pixelMm[0]);
  const winC = Math.round(45 / grid.pixelMm[1]);
  const r0 = Math.max(0, spineRow - winR);
  const r1 = Math.min(rows - 1, spineRow + winR);
  const c0 = Math.max(0, spineCol - winC);
  const c1 = Math.min(cols - 1, spineCol + winC);
  const wr = r1 - r0 + 1;
  const wc = c1 - c0 + 1;
  const mask = new Uint8Array(wr * wc);
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) mask[(r - r0) * wc + (c - c0)] = huSum[r * cols + c]! > SLAB_BODY_HU * count ? 1 : 0;
  const dist = chamferDistanceMm(mask, wr, wc, grid.pixelMm[0], grid.pixelMm[1]);
  // The body lies anterior to the canal and the posterior elements: search mostly anteriorly.
  const antDr = Math.round(40 / grid.pixelMm[0]);
  const postDr = Math.round(10 / grid.pixelMm[0]);
  const sign = grid.posteriorRowSign;
  const ra = sign > 0 ? spineRow - antDr : spineRow - postDr;
  const rb = sign > 0 ? spineRow + postDr : spineRow + antDr;
  const maxDc = Math.round(15 / grid.pixelMm[1]);
  let bestD = 0;
  let bodyRow = NaN;
  let bodyCol = NaN;
  for (let r = Math.max(r0, ra); r <= Math.min(r1, rb); r++) {
    for (let c = Math.max(c0, spineCol - maxDc); c <= Math.min(c1, spineCol + maxDc); c++) {
      const d = dist[(r - r0) * wc + (c - c0)]!;
      if (d > bestD) {
        bestD = d;
        bodyRow = r;
        bodyCol = c;
      }
    }
  }
  // A vertebral body is at least ~8 mm deep (radius) even in a child; less is a rib or lamina.
  if (bestD < 6) return null;
  // The single deepest pixel wanders inside a round body from slab to slab; the centroid of the
  // deep core (distance >= 70 % of the maximum, connected to it) is stable.
  const core = coreCentroid(dist, wr, wc, bodyRow - r0, bodyCol - c0, 0.7 * bestD);
  const coreRow = Math.round(core.row);
  const coreCol = Math.round(core.col);
  const run = apRun(mask, wr, wc, coreRow, coreCol, Math.round(45 / grid.pixelMm[0]));
  if (!canalBehind(mask, wr, wc, sign > 0 ? run.b : run.a, coreCol, sign, grid.pixelMm[0], grid.pixelMm[1])) return null;
  // The disc profile is read at the anteroposterior middle of the body (between the anterior
  // cortex and the canal), as a reader would on a mid-sagittal view; tilted endplates make the
  // disc's height depend on where along AP it is read.
  return { row: (run.a + run.b) / 2 + r0, col: core.col + c0, radiusMm: bestD };
}

/**
 * Behind the body's posterior cortex: a dark gap of 5-30 mm (the canal) and then bone again within
 * 40 mm (laminae, spinous process), with bone at both sides of the gap. Checked on the column
 * through the body and 3 mm either side.
 */
function canalBehind(mask: Uint8Array, rows: number, cols: number, edgeRow: number, col: number, sign: 1 | -1, rowMm: number, colMm: number): boolean {
  const lateralReach = Math.round(20 / colMm);
  const minGap = Math.round(5 / rowMm);
  const maxGap = Math.round(30 / rowMm);
  const maxReach = Math.round(40 / rowMm);
  const side = Math.max(1, Math.round(3 / rowMm));
  for (const c of [col, col - side, col + side]) {
    if (c < 0 || c >= cols) continue;
    let gap = 0;
    let r = edgeRow + sign;
    while (r >= 0 && r < rows && !mask[r * cols + c] && gap <= maxGap) {
      gap++;
      r += sign;
    }
    if (gap < minGap || gap > maxGap) continue;
    let closedBehind = false;
    for (let d = 0; d < maxReach - gap; d++, r += sign) {
      if (r < 0 || r >= rows) break;
      if (mask[r * cols + c]) {
        closedBehind = true;
        break;
      }
    }
    // The canal is also closed at the sides (pedicles, laminae): bone within 20 mm left and right
    // of its middle. Lung or fat behind a dense vessel is open to the side.
    const midRow = edgeRow + sign * Math.round(gap / 2);
    if (closedBehind && boneWithin(mask, cols, midRow, c, -1, lateralReach) && boneWithin(mask, cols, midRow, c, 1, lateralReach)) return true;
  }
  return false;
}

function boneWithin(mask: Uint8Array, cols: number, row: number, col: number, dir: -1 | 1, reach: number): boolean {
  for (let d = 1, c = col + dir; d <= reach && c >= 0 && c < cols; d++, c += dir) if (mask[row * cols + c]) return true;
  return false;
}

/** Ends of the run of mask pixels through (row, col) along the column, each capped at maxLen. */
function apRun(mask: Uint8Array, rows: number, cols: number, row: number, col: number, maxLen: number): { a: number; b: number } {
  if (!mask[row * cols + col]) return { a: row, b: row };
  let a = row;
  let b = row;
  while (a > 0 && mask[(a - 1) * cols + col] && row - a < maxLen) a--;
  while (b < rows - 1 && mask[(b + 1) * cols + col] && b - row < maxLen) b++;
  return { a, b };
}

function coreCentroid(dist: Float32Array, rows: number, cols: number, r0: number, c0: number, minD: number): { row: number; col: number } {
  const seen = new Uint8Array(rows * cols);
  const stack = [r0 * cols + c0];
  seen[r0 * cols + c0] = 1;
  let sr = 0;
  let sc = 0;
  let n = 0;
  while (stack.length) {
    const p = stack.pop()!;
    const r = (p / cols) | 0;
    const c = p - r * cols;
    sr += r;
    sc += c;
    n++;
    for (const q of [c > 0 ? p - 1 : -1, c < cols - 1 ? p + 1 : -1, r > 0 ? p - cols : -1, r < rows - 1 ? p + cols : -1]) {
      if (q >= 0 && !seen[q] && dist[q]! >= minD) {
        seen[q] = 1;
        stack.push(q);
      }
    }
  }
  return { row: sr / n, col: sc / n };
}

/** Drop anchors that jump away from their neighbours (a single bad slab must not bend the track). */
function rejectOutliers(anchors: Anchor[], grid: WorkGrid): void {
  const limitMm = 10;
  for (let i = 0; i < anchors.length; i++) {
    const a = anchors[i]!;
    if (!a.found) continue;
    const neigh = [anchors[i - 2], anchors[i - 1], anchors[i + 1], anchors[i + 2]].filter((x): x is Anchor => !!x && x.found);
    if (neigh.length < 2) continue;
    const medRow = median(neigh.map((x) => x.row));
    const medCol = median(neigh.map((x) => x.col));
    const dRow = (a.row - medRow) * grid.pixelMm[0];
    const dCol = (a.col - medCol) * grid.pixelMm[1];
    if (Math.hypot(dRow, dCol) > limitMm) a.found = false;
  }
}

/** 1-2-1 smoothing of the found anchors' positions (removes slab-to-slab jitter, keeps curvature). */
function smoothAnchors(anchors: Anchor[]): void {
  const found = anchors.filter((a) => a.found);
  const rows = found.map((a) => a.row);
  const cols = found.map((a) => a.col);
  for (let i = 1; i < found.length - 1; i++) {
    found[i]!.row = (rows[i - 1]! + 2 * rows[i]! + rows[i + 1]!) / 4;
    found[i]!.col = (cols[i - 1]! + 2 * cols[i]! + cols[i + 1]!) / 4;
  }
}
