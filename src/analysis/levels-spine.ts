/**
 * Spine centre line: where the vertebral bodies are in every slice, and the intensity profile
 * along the body centre line from which the discs are found. Pure: no I/O.
 *
 * Why persistence: along a short head-foot slab, the spine is the one bony structure that stays
 * in the same place (ribs, scapulae and the sternum move or lie elsewhere), so "bone in most
 * slices of the slab, near the midline, in the posterior half of the body" finds it without
 * any prior about the scanner or the field of view.
 */
import type { BodyOutline, WorkGrid } from './levels-grid.ts';

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

export function median(values: number[]): number {
  const s = values.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Mean over a (2*hr+1) x (2*hc+1) box, via an integral image. */
export function boxFilter(src: Float32Array, rows: number, cols: number, hr: number, hc: number): Float32Array {
  const integral = new Float64Array((rows + 1) * (cols + 1));
  for (let r = 0; r < rows; r++) {
    let rowSum = 0;
    for (let c = 0; c < cols; c++) {
      rowSum += src[r * cols + c]!;
      integral[(r + 1) * (cols + 1) + c + 1] = integral[r * (cols + 1) + c + 1]! + rowSum;
    }
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const ra = Math.max(0, r - hr);
    const rb = Math.min(rows, r + hr + 1);
    for (let c = 0; c < cols; c++) {
      const ca = Math.max(0, c - hc);
      const cb = Math.min(cols, c + hc + 1);
      const s =
        integral[rb * (cols + 1) + cb]! - integral[ra * (cols + 1) + cb]! - integral[rb * (cols + 1) + ca]! + integral[ra * (cols + 1) + ca]!;
      out[r * cols + c] = s / ((rb - ra) * (cb - ca));
    }
  }
  return out;
}

/** Two-pass chamfer distance (mm) from each foreground pixel to the nearest background pixel or the edge. */
export function chamferDistanceMm(mask: Uint8Array, rows: number, cols: number, rowMm: number, colMm: number): Float32Array {
  const diag = Math.hypot(rowMm, colMm);
  const d = new Float32Array(rows * cols);
  const inf = 1e9;
  for (let i = 0; i < d.length; i++) d[i] = mask[i] ? inf : 0;
  const at = (r: number, c: number): number => (r < 0 || c < 0 || r >= rows || c >= cols ? 0 : d[r * cols + c]!);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (!mask[i]) continue;
      d[i] = Math.min(d[i]!, at(r - 1, c) + rowMm, at(r, c - 1) + colMm, at(r - 1, c - 1) + diag, at(r - 1, c + 1) + diag);
    }
  }
  for (let r = rows - 1; r >= 0; r--) {
    for (let c = cols - 1; c >= 0; c--) {
      const i = r * cols + c;
      if (!mask[i]) continue;
      d[i] = Math.min(d[i]!, at(r + 1, c) + rowMm, at(r, c + 1) + colMm, at(r + 1, c + 1) + diag, at(r + 1, c - 1) + diag);
    }
  }
  return d;
}

/**
 * Mean HU in a small disc at the vertebral body centre of every slice. Bodies (trabecular bone
 * and endplates) are bright, discs (and vacuum phenomena) dark, so discs are the profile's minima.
 */
export function bodyCentreProfile(grid: WorkGrid, track: SpineTrack): Float64Array {
  const { rows, columns: cols, slices, hu } = grid;
  const plane = rows * cols;
  const out = new Float64Array(slices).fill(NaN);
  for (let k = 0; k < slices; k++) {
    const rc = track.bodyRow[k]!;
    const cc = track.bodyCol[k]!;
    if (!Number.isFinite(rc)) continue;
    const radiusMm = Math.min(9, Math.max(4, 0.5 * track.bodyRadiusMm[k]!));
    const hr = Math.ceil(radiusMm / grid.pixelMm[0]);
    const hc = Math.ceil(radiusMm / grid.pixelMm[1]);
    let sum = 0;
    let n = 0;
    for (let r = Math.round(rc) - hr; r <= Math.round(rc) + hr; r++) {
      if (r < 0 || r >= rows) continue;
      for (let c = Math.round(cc) - hc; c <= Math.round(cc) + hc; c++) {
        if (c < 0 || c >= cols) continue;
        const dy = (r - rc) * grid.pixelMm[0];
        const dx = (c - cc) * grid.pixelMm[1];
        if (dx * dx + dy * dy > radiusMm * radiusMm) continue;
        const v = hu[k * plane + r * cols + c]!;
        sum += v < -200 ? -200 : v > 1000 ? 1000 : v;
        n++;
      }
    }
    if (n > 0) out[k] = sum / n;
  }
  return out;
}

export interface DiscFinding {
  /** Fractional slice indices of disc centres, head first. */
  discSlices: number[];
  /** Strength of each disc (smoothed gradient energy, HU/mm), same order. */
  strength: number[];
  /** Per slice boundary feature (for diagnostics). */
  feature: Float64Array;
}

/**
 * Discs along the body centre profile. Why gradient energy rather than profile minima: in young
 * spines the disc is darker than trabecular bone, but in osteopenic spines trabecular bone is as
 * dark as the disc and only the sclerotic endplates around it stand out. Both patterns give a
 * burst of head-foot intensity change centred on the disc, while the body interior is flat.
 */
export function findDiscs(profile: Float64Array, sliceMm: number): DiscFinding {
  const n = profile.length;
  const filled = fillGaps(profile);
  // Head-foot change per mm over a span of at most ~3 mm: a central difference on thin slices,
  // the mean of the two one-sided differences on thicker ones (a central difference over two
  // thick slices would step over a one-slice disc or vacuum cleft).
  const grad = new Float64Array(n);
  const thin = sliceMm <= 1.6;
  for (let k = 0; k < n; k++) {
    const prev = filled[Math.max(0, k - 1)]!;
    const next = filled[Math.min(n - 1, k + 1)]!;
    const here = filled[k]!;
    grad[k] = thin ? Math.abs(next - prev) / (2 * sliceMm) : (Math.abs(here - prev) + Math.abs(next - here)) / (2 * sliceMm);
  }
  const feature = gaussianSmooth(grad, 2.5 / sliceMm);
  for (let k = 0; k < n; k++) if (!Number.isFinite(profile[k]!)) feature[k] = 0;

  // Non-maximum suppression: discs are at least ~13 mm apart even in the upper thoracic spine.
  // Peaks within 4 mm of the first/last slice are the profile's edge, not a disc.
  const minSep = 13 / sliceMm;
  const edge = 4 / sliceMm;
  const candidates: number[] = [];
  for (let k = 1; k < n - 1; k++) {
    if (k < edge || k > n - 1 - edge) continue;
    if (feature[k]! > 0 && feature[k]! >= feature[k - 1]! && feature[k]! > feature[k + 1]!) candidates.push(k);
  }
  candidates.sort((a, b) => feature[b]! - feature[a]!);
  const kept: number[] = [];
  for (const k of candidates) if (kept.every((j) => Math.abs(j - k) >= minSep)) kept.push(k);
  // Weak bumps inside a body are texture: keep peaks of at least a third of the typical disc.
  const typical = kept.length ? median(kept.slice(0, Math.max(3, Math.ceil(kept.length / 2))).map((k) => feature[k]!)) : 0;
  const discs = removeShortIntervals(
    kept.filter((k) => feature[k]! >= typical / 3).sort((a, b) => a - b),
    feature,
  );
  // Position: centroid of the raw change within +-6 mm of the peak. The smoothed peak leans towards
  // the sharper of the two endplates; the centroid sits between them, at the disc.
  const half = Math.max(1, Math.round(6 / sliceMm));
  const centred = discs.map((k) => {
    let sw = 0;
    let s = 0;
    for (let j = Math.max(0, k - half); j <= Math.min(n - 1, k + half); j++) {
      sw += grad[j]!;
      s += grad[j]! * j;
    }
    return sw > 0 ? s / sw : refinePeak(feature, k);
  });
  return { discSlices: centred, strength: discs.map((k) => feature[k]!), feature };
}

/**
 * Vertebral heights change slowly along the spine: a body much shorter than its neighbours is a
 * spurious disc inside a body (Schmorl node, vacuum cleft, endplate fracture). Drop the weaker of
 * its two discs until no such interval is left.
 */
function removeShortIntervals(discs: number[], feature: Float64Array): number[] {
  const d = discs.slice();
  // Also short in absolute terms (vs the series' median height), so one missed disc (a long
  // interval) cannot make its normal neighbours look short and start a cascade.
  const lengths = d.slice(1).map((v, i) => v - d[i]!);
  const typical = lengths.length ? median(lengths) : Infinity;
  for (;;) {
    let worst = -1;
    let worstRatio = 0.7;
    for (let i = 1; i < d.length; i++) {
      const len = d[i]! - d[i - 1]!;
      const neigh: number[] = [];
      if (i >= 2) neigh.push(d[i - 1]! - d[i - 2]!);
      if (i + 1 < d.length) neigh.push(d[i + 1]! - d[i]!);
      if (neigh.length === 0) continue;
      const ratio = len / (neigh.reduce((a, b) => a + b, 0) / neigh.length);
      if (ratio < worstRatio && len < 0.75 * typical) {
        worstRatio = ratio;
        worst = i;
      }
    }
    if (worst < 0) return d;
    const drop = feature[d[worst - 1]!]! < feature[d[worst]!]! ? worst - 1 : worst;
    d.splice(drop, 1);
  }
}

function refinePeak(f: Float64Array, k: number): number {
  const a = f[k - 1] ?? f[k]!;
  const b = f[k]!;
  const c = f[k + 1] ?? f[k]!;
  const den = a - 2 * b + c;
  return den < 0 ? k + Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den)) : k;
}

function fillGaps(x: Float64Array): Float64Array {
  const out = Float64Array.from(x);
  let last = NaN;
  for (let k = 0; k < out.length; k++) {
    if (Number.isFinite(out[k]!)) last = out[k]!;
    else out[k] = last;
  }
  last = NaN;
  for (let k = out.length - 1; k >= 0; k--) {
    if (Number.isFinite(out[k]!)) last = out[k]!;
    else out[k] = last;
  }
  for (let k = 0; k < out.length; k++) if (!Number.isFinite(out[k]!)) out[k] = 0;
  return out;
}

export function gaussianSmooth(x: Float64Array, sigma: number): Float64Array {
  const n = x.length;
  if (sigma < 0.3) return Float64Array.from(x);
  const h = Math.ceil(3 * sigma);
  const w: number[] = [];
  for (let i = -h; i <= h; i++) w.push(Math.exp(-(i * i) / (2 * sigma * sigma)));
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let s = 0;
    let ws = 0;
    for (let i = -h; i <= h; i++) {
      const j = k + i;
      if (j < 0 || j >= n) continue;
      s += w[i + h]! * x[j]!;
      ws += w[i + h]!;
    }
    out[k] = s / ws;
  }
  return out;
}
