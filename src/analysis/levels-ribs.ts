/**
 * Rib detection for vertebral level counting. Pure: no I/O.
 *
 * A rib is a bony structure lateral to the spine that reaches far from it (a transverse process
 * does not), found as a 3-D connected component of bone in the paravertebral/posterior region
 * (the spine itself, its facet joints and everything anterior are cut away, so the ribs of one
 * side do not join through the vertebrae). Each rib is located where it passes the medial band,
 * 30-42 mm from the body centre, i.e. at its neck/tubercle beside its own vertebra: that
 * crossing's head-foot position tells which vertebra the rib belongs to.
 */
import type { WorkGrid } from './levels-grid.ts';
import type { SpineTrack } from './levels-spine.ts';
import { labelComponents } from './morphology.ts';

export type Side = 'right' | 'left';

export interface RibCrossing {
  side: Side;
  /** Fractional slice index of the centre of the crossing. */
  slice: number;
  firstSlice: number;
  lastSlice: number;
  /** How far from the body centre the rib's component reaches, mm. */
  reachMm: number;
  /**
   * True when the rib's component touches the lowest slice: ribs fall as they run laterally, so
   * its lateral part may be below the scan and its reach is only a lower bound. (A rib cut by
   * the top of the scan loses its medial part, not its lateral reach.)
   */
  reachTruncated: boolean;
  /** True when the crossing touches the first or last slice (its centre is uncertain). */
  atEdge: boolean;
}

export interface RibPair {
  /** Fractional slice index (mean of the sides present). */
  slice: number;
  right: RibCrossing | null;
  left: RibCrossing | null;
}

const BONE_HU = 200;
const EXCLUDE_LATERAL_MM = 30;
const BAND_MAX_MM = 42;
/**
 * A component that reaches this far from the body centre is a rib, not a transverse process
 * (thoracolumbar transverse processes end 35-50 mm from the midline).
 */
const RIB_REACH_MM = 55;
/**
 * A short floating 12th rib may end before RIB_REACH_MM, but it falls steeply over 15+ mm of
 * head-foot extent, whereas a transverse process is a horizontal plate about 10 mm tall.
 */
const SHORT_RIB_REACH_MM = 45;
const SHORT_RIB_HEIGHT_MM = 15;
/** A rib crosses the band over at most this height (10-15 mm, up to ~30 mm for steep lower ribs); taller runs are two ribs touching. */
const MAX_CROSSING_MM = 32;

export interface RibFinding {
  crossings: RibCrossing[];
  pairs: RibPair[];
  /**
   * Per side and slice: bone in the medial band that is not a rib (transverse processes of the
   * lumbar vertebrae, which a rib-less vertebra in rib position lacks). Pixel counts.
   */
  nonRibBand: { right: Float64Array; left: Float64Array };
  /** Warnings about structures that could not be read as single ribs. */
  warnings: string[];
}

export function findRibs(grid: WorkGrid, track: SpineTrack): RibFinding {
  const { rows, columns: cols, slices, hu, bodyMask } = grid;
  const plane = rows * cols;
  const [rowMm, colMm] = grid.pixelMm;
  const sign = grid.posteriorRowSign;

  // 1+2. Candidate bone (lateral enough, near the vertebral body centre line in AP), labelled
  // slice by slice and joined across slices with a union-find: 3-D 6-connected components with
  // memory for two slices only (a 1000-slice series must not cost gigabytes here).
  const parent: number[] = [0];
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  /** Per 2-D piece: slice, side, pixels inside the medial band, furthest lateral distance. */
  const pieces: { slice: number; side: Side; band: number; maxLat: number }[] = [{ slice: 0, side: 'right', band: 0, maxLat: 0 }];
  let prev = new Int32Array(plane);
  let cur = new Int32Array(plane);
  const candidate = new Uint8Array(plane);
  for (let k = 0; k < slices; k++) {
    cur.fill(0);
    candidate.fill(0);
    const br = track.bodyRow[k]!;
    const bc = track.bodyCol[k]!;
    const base = k * plane;
    if (Number.isFinite(br)) {
      for (let r = 0; r < rows; r++) {
        // From 10 mm in front of the body centre (rib heads) to 90 mm behind it (rib angles);
        // further back is the back's skin or a table touching it, never a rib.
        const postMm = (r - br) * sign * rowMm;
        if (postMm < -10 || postMm > 90) continue;
        for (let c = 0; c < cols; c++) {
          const p = r * cols + c;
          if (hu[base + p]! <= BONE_HU || !bodyMask[base + p]) continue;
          if (Math.abs((c - bc) * colMm) < EXCLUDE_LATERAL_MM) continue;
          candidate[p] = 1;
        }
      }
    }
    // 2-D pieces of this slice; piece id = ids already used + label. Labels are numbered in scan
    // order, so a label's first pixel met below is where its piece starts (sets its side).
    const { labels } = labelComponents(candidate, rows, cols);
    const offset = pieces.length - 1;
    for (let p = 0; p < plane; p++) {
      if (!labels[p]) continue;
      const id = offset + labels[p]!;
      const c = p % cols;
      if (id === pieces.length) {
        parent.push(id);
        const towardsLeft = (c - bc) * grid.leftColumnSign > 0;
        pieces.push({ slice: k, side: towardsLeft ? 'left' : 'right', band: 0, maxLat: 0 });
      }
      const piece = pieces[id]!;
      cur[p] = id;
      const lat = Math.abs((c - bc) * colMm);
      if (lat > piece.maxLat) piece.maxLat = lat;
      if (lat <= BAND_MAX_MM) piece.band++;
      if (prev[p]) union(id, prev[p]!);
    }
    [prev, cur] = [cur, prev];
  }

  // How far each 3-D component reaches from the body centre, and how tall it is.
  const reach = new Map<number, number>();
  const kMin = new Map<number, number>();
  const kMax = new Map<number, number>();
  for (let id = 1; id < pieces.length; id++) {
    const root = find(id);
    const piece = pieces[id]!;
    reach.set(root, Math.max(reach.get(root) ?? 0, piece.maxLat));
    kMin.set(root, Math.min(kMin.get(root) ?? piece.slice, piece.slice));
    kMax.set(root, Math.max(kMax.get(root) ?? piece.slice, piece.slice));
  }
  const isRib = (root: number): boolean => {
    const maxLat = reach.get(root) ?? 0;
    const heightMm = ((kMax.get(root) ?? 0) - (kMin.get(root) ?? 0) + 1) * grid.sliceMm;
    return maxLat >= RIB_REACH_MM || (maxLat >= SHORT_RIB_REACH_MM && heightMm >= SHORT_RIB_HEIGHT_MM);
  };

  // 3. Per side and slice: rib pixels inside the medial band, by component.
  const crossings: RibCrossing[] = [];
  const warnings: string[] = [];
  const nonRibBand = { right: new Float64Array(slices), left: new Float64Array(slices) };
  for (let id = 1; id < pieces.length; id++) {
    const piece = pieces[id]!;
    if (piece.band > 0 && !isRib(find(id))) nonRibBand[piece.side][piece.slice]! += piece.band;
  }
  for (const side of ['right', 'left'] as Side[]) {
    // The side label is for evidence text only; counting treats both sides the same.
    const occupancy = new Float64Array(slices);
    const countsBySlice: Map<number, number>[] = Array.from({ length: slices }, () => new Map<number, number>());
    for (let id = 1; id < pieces.length; id++) {
      const piece = pieces[id]!;
      if (piece.side !== side || piece.band === 0) continue;
      const root = find(id);
      if (!isRib(root)) continue;
      occupancy[piece.slice]! += piece.band;
      const counts = countsBySlice[piece.slice]!;
      counts.set(root, (counts.get(root) ?? 0) + piece.band);
    }
    for (const run of ribRuns(occupancy, countsBySlice, grid.sliceMm)) {
      const tallMm = (run.last - run.first + 1) * grid.sliceMm;
      const parts = tallMm > MAX_CROSSING_MM ? splitRun(occupancy, run, grid.sliceMm) : [run];
      // Reach of the rib itself, not of another rib overlapping it in a few slices.
      const runReach = reach.get(run.label) ?? 0;
      if (parts.length === 1 && tallMm > MAX_CROSSING_MM) {
        warnings.push(`a ${Math.round(tallMm)} mm tall bony structure beside the spine (${side}) could not be separated into ribs`);
      }
      for (const part of parts) {
        let sw = 0;
        let s = 0;
        for (let k = part.first; k <= part.last; k++) {
          sw += occupancy[k]!;
          s += occupancy[k]! * k;
        }
        crossings.push({
          side,
          slice: s / sw,
          firstSlice: part.first,
          lastSlice: part.last,
          reachMm: runReach,
          reachTruncated: (kMax.get(run.label) ?? 0) === slices - 1,
          atEdge: part.first === 0 || part.last === slices - 1,
        });
      }
    }
  }
  crossings.sort((a, b) => a.slice - b.slice);
  return { crossings, pairs: pairCrossings(crossings, grid.sliceMm), nonRibBand, warnings };
}

interface Run {
  first: number;
  last: number;
}

/**
 * Runs of slices where one rib (one 3-D component) occupies the band. Neighbouring ribs touching
 * in the band are told apart by their component; a steep rib that leaves the band for a slice
 * or two (<= 2.5 mm) and comes back stays one run.
 */
function ribRuns(occ: Float64Array, counts: Map<number, number>[], sliceMm: number): (Run & { label: number })[] {
  const minCount = 2;
  const bridge = Math.max(1, Math.floor(2.5 / sliceMm));
  const runs: (Run & { label: number })[] = [];
  let gap = 0;
  for (let k = 0; k < occ.length; k++) {
    if (occ[k]! < minCount) {
      gap++;
      continue;
    }
    let label = 0;
    let best = 0;
    for (const [l, n] of counts[k]!) {
      if (n > best) {
        best = n;
        label = l;
      }
    }
    const cur = runs[runs.length - 1];
    if (cur && cur.label === label && gap <= bridge) cur.last = k;
    else runs.push({ first: k, last: k, label });
    gap = 0;
  }
  return runs;
}

/** Split a too-tall run at its thinnest slices (two ribs touching in the band). */
function splitRun(occ: Float64Array, run: Run, sliceMm: number): Run[] {
  const minPart = Math.max(2, Math.round(6 / sliceMm));
  let bestK = -1;
  let bestV = Infinity;
  for (let k = run.first + minPart; k <= run.last - minPart; k++) {
    if (occ[k]! < bestV) {
      bestV = occ[k]!;
      bestK = k;
    }
  }
  if (bestK < 0) return [run];
  const parts = [
    { first: run.first, last: bestK - 1 },
    { first: bestK + 1, last: run.last },
  ];
  return parts.flatMap((p) => ((p.last - p.first + 1) * sliceMm > MAX_CROSSING_MM ? splitRun(occ, p, sliceMm) : [p]));
}

/** Pair right and left crossings at about the same height (a rib pair articulates with one vertebra). */
export function pairCrossings(crossings: RibCrossing[], sliceMm: number): RibPair[] {
  const right = crossings.filter((c) => c.side === 'right');
  const left = crossings.filter((c) => c.side === 'left');
  // Two crossings of one pair can differ by more than a few mm (asymmetric steep lower ribs), but
  // never by as much as the spacing of consecutive ribs on one side.
  const gaps: number[] = [];
  for (const list of [right, left]) for (let i = 1; i < list.length; i++) gaps.push(list[i]!.slice - list[i - 1]!.slice);
  const spacing = gaps.length ? gaps.sort((a, b) => a - b)[gaps.length >> 1]! : 22 / sliceMm;
  const maxDz = Math.min(0.7 * spacing, 18 / sliceMm);
  const usedLeft = new Set<RibCrossing>();
  const pairs: RibPair[] = [];
  for (const r of right) {
    let best: RibCrossing | null = null;
    for (const l of left) {
      if (usedLeft.has(l)) continue;
      const d = Math.abs(l.slice - r.slice);
      if (d <= maxDz && (!best || d < Math.abs(best.slice - r.slice))) best = l;
    }
    if (best) usedLeft.add(best);
    pairs.push({ slice: best ? (r.slice + best.slice) / 2 : r.slice, right: r, left: best });
  }
  for (const l of left) if (!usedLeft.has(l)) pairs.push({ slice: l.slice, right: null, left: l });
  pairs.sort((a, b) => a.slice - b.slice);
  return pairs;
}
