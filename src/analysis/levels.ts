/**
 * Automatic vertebral level finder (T1..T12, L1..L2 when in view; T11 is what the product needs).
 * Pure: no I/O. Pipeline:
 *   work grid (~1.4 mm) -> spine centre line -> disc spaces (vertebral body extents)
 *   -> rib pairs beside the spine -> rib counts top-down (from the first rib) and bottom-up
 *   (from the last, floating rib above a rib-free L1) -> named vertebrae with confidence.
 * Never guesses: when T11 is out of view, cut by the field of view, or the counts are missing
 * or disagree, T11 is "not assessable" with a plain reason.
 *
 * Confidence of a level: 0.95 when both counts agree (12 rib pairs); 0.75 with one count only
 * (bottom-up: the lowest pair is bilateral, clearly shorter than the one above and a whole
 * rib-free vertebra follows; or top-down from a recognisably short first rib); at most 0.5 when
 * the rib pairs and the disc spaces next to that level do not match; 0.2 when the counts disagree.
 * Levels below `minT11Confidence` are not put in `levels` (they are listed in the evidence).
 * A level's body extent runs between the detected disc centres (2 mm of each disc left out);
 * `partial` marks a body cut by the scan's top or bottom. T11 is measured at its mid-slice.
 */
import type { CtVolume, LevelFinding, LevelName, VertebralLevel } from './types.ts';
import { buildWorkGrid, LevelInputError } from './levels-grid.ts';
import { trackSpine } from './levels-spine.ts';
import { bodyCentreProfile, findDiscs } from './levels-discs.ts';
import { findRibs } from './levels-ribs.ts';
import { countLevels, type Interval } from './levels-count.ts';

export const LEVEL_FINDER_VERSION = 'bonemet-levels 0.1.0';
export const DEFAULT_MIN_T11_CONFIDENCE = 0.6;

export interface LevelFinderOptions {
  /** T11 below this confidence is not used for measurement (default 0.6). */
  minT11Confidence?: number;
}

export function findVertebralLevels(volume: CtVolume, options: LevelFinderOptions = {}): LevelFinding {
  const minConfidence = options.minT11Confidence ?? DEFAULT_MIN_T11_CONFIDENCE;
  const notAssessable = (reason: string, evidence: string[] = []): LevelFinding => ({
    t11Assessable: false,
    reason,
    levels: {},
    evidence,
    algorithmVersion: LEVEL_FINDER_VERSION,
  });

  let grid;
  try {
    grid = buildWorkGrid(volume);
  } catch (e) {
    if (e instanceof LevelInputError) return notAssessable(e.message);
    throw e;
  }
  const evidence: string[] = [];
  const extentMm = Math.abs(grid.zMm[grid.slices - 1]! - grid.zMm[0]!);
  if (grid.slices < 3) return notAssessable('too few slices to find vertebral levels');
  const gap = largestGap(grid.zMm);
  if (gap) return notAssessable(`slices missing: ${gap.mm.toFixed(1)} mm gap at z ${gap.zMm.toFixed(1)} mm (vertebrae cannot be counted across it)`);

  const track = trackSpine(grid);
  evidence.push(`spine found in ${track.anchorsFound} of ${track.anchorsTotal} slabs over ${extentMm.toFixed(0)} mm`);
  if (track.anchorsFound === 0) return notAssessable('spine not found in the field of view', evidence);

  const profile = bodyCentreProfile(grid, track);
  const discs = findDiscs(profile, grid.sliceMm);
  const zAt = (slice: number): number => interpolateZ(grid.zMm, slice);
  evidence.push(
    `${discs.discSlices.length} disc space(s) at z ${discs.discSlices.map((k) => zAt(k).toFixed(1)).join(', ') || '-'} mm`,
  );
  const intervals = intervalsFromDiscs(discs.discSlices, grid.slices, grid.sliceMm);

  const ribs = findRibs(grid, track);
  evidence.push(...ribs.warnings);
  const voxelMm3 = grid.pixelMm[0] * grid.pixelMm[1] * grid.sliceMm;
  const counted = countLevels({
    intervals,
    pairs: ribs.pairs,
    slices: grid.slices,
    sliceMm: grid.sliceMm,
    zAt,
    nonRibBandMm3: { right: ribs.nonRibBand.right.map((n) => n * voxelMm3), left: ribs.nonRibBand.left.map((n) => n * voxelMm3) },
  });
  evidence.push(...counted.evidence);

  // Levels below the confidence threshold are not reported as levels (a consumer must never pick
  // up a doubtful T4 or T12); what they would have been stays in the evidence.
  const levels: Partial<Record<LevelName, VertebralLevel>> = {};
  const withheld: string[] = [];
  for (const n of counted.named) {
    const level = toLevel(volume, n.name, intervals[n.interval]!, n.confidence, grid.sliceMm);
    if (n.confidence >= minConfidence) levels[n.name] = level;
    else withheld.push(`${n.name} ${level.zMm.toFixed(1)}`);
  }
  if (withheld.length) {
    evidence.push(`not reported (confidence ${counted.t11Confidence.toFixed(2)} below ${minConfidence.toFixed(2)}): tentative ${withheld.join(', ')} mm`);
  }
  let reason = counted.reason;
  const t11 = levels.T11;
  if (!reason && (!t11 || t11.confidence < minConfidence)) {
    reason = `T11 level confidence ${counted.t11Confidence.toFixed(2)} is below the required ${minConfidence.toFixed(2)}`;
  }
  if (t11 && !reason) evidence.push(`T11 at z ${t11.zMm.toFixed(1)} mm (slices ${t11.sliceRange[0]}-${t11.sliceRange[1]}), confidence ${t11.confidence.toFixed(2)}`);
  return {
    t11Assessable: reason === null,
    reason,
    levels,
    evidence,
    algorithmVersion: LEVEL_FINDER_VERSION,
  };
}

/** Disc-to-disc intervals, plus the partial pieces between the outermost discs and the FOV edges. */
export function intervalsFromDiscs(discSlices: number[], slices: number, sliceMm: number): Interval[] {
  const out: Interval[] = [];
  // A body ending within ~3 mm of the edge counts as whole: the edge slice then is the disc.
  const edgeTol = 3 / sliceMm;
  const first = discSlices[0];
  if (first === undefined) return [{ upper: 0, lower: slices - 1, partial: true }];
  if (first > edgeTol) out.push({ upper: 0, lower: first, partial: true });
  for (let i = 1; i < discSlices.length; i++) out.push({ upper: discSlices[i - 1]!, lower: discSlices[i]!, partial: false });
  const last = discSlices[discSlices.length - 1]!;
  if (slices - 1 - last > edgeTol) out.push({ upper: last, lower: slices - 1, partial: true });
  return out;
}

function toLevel(volume: CtVolume, name: LevelName, iv: Interval, confidence: number, sliceMm: number): VertebralLevel {
  // Leave ~2 mm of each disc out of the body extent (discs are 3-10 mm tall, centre is the peak).
  const halfDisc = 2 / sliceMm;
  const top = iv.partial && iv.upper === 0 ? 0 : Math.ceil(iv.upper + halfDisc);
  const bottom = iv.partial && iv.lower === volume.slices - 1 ? volume.slices - 1 : Math.floor(iv.lower - halfDisc);
  const lo = Math.max(0, Math.min(top, bottom));
  const hi = Math.min(volume.slices - 1, Math.max(top, bottom));
  const mid = Math.round((lo + hi) / 2);
  return {
    name,
    sliceRange: [lo, hi],
    midSliceIndex: mid,
    zMm: volume.sliceZMm[mid]!,
    sopInstanceUID: volume.sopInstanceUIDs[mid] ?? '',
    confidence,
    partial: iv.partial,
  };
}

/**
 * Levels are counted in slice steps, so the slices must be evenly spaced: a step more than 1.6x
 * the median (missing instances) is reported instead of silently stretching the anatomy.
 */
function largestGap(z: number[]): { mm: number; zMm: number } | null {
  const steps = z.slice(1).map((v, i) => Math.abs(v - z[i]!));
  const sorted = steps.slice().sort((a, b) => a - b);
  const typical = sorted[sorted.length >> 1]!;
  let worst: { mm: number; zMm: number } | null = null;
  steps.forEach((step, i) => {
    if (step > 1.6 * typical && (!worst || step > worst.mm)) worst = { mm: step, zMm: z[i]! };
  });
  return worst;
}

function interpolateZ(z: number[], slice: number): number {
  const k = Math.max(0, Math.min(z.length - 1, slice));
  const a = Math.floor(k);
  const b = Math.min(z.length - 1, a + 1);
  return z[a]! + (k - a) * (z[b]! - z[a]!);
}
