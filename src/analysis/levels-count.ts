/**
 * Vertebral numbering from rib pairs and disc spaces. Pure: no I/O, no pixels.
 *
 * Two independent counts:
 *  - top-down: the uppermost rib pair is rib 1 (T1) when it is recognisably the first rib
 *    (much shorter than the next ribs: it curves straight to the manubrium);
 *  - bottom-up: the lowest rib pair is rib 12 (T12) when a whole rib-free vertebra (L1) is in
 *    view below it, and is trusted on its own only when that last rib is clearly floating
 *    (shorter than the rib above).
 * Agreement of both counts gives a high confidence; disagreement (11 or 13 rib pairs, a cervical
 * or lumbar rib, a missed rib) is reported and blocks the level.
 */
import type { LevelName } from './types.ts';
import type { RibPair } from './levels-ribs.ts';

export interface Interval {
  /** Fractional slice indices of the disc above and below (or the FOV edge). */
  upper: number;
  lower: number;
  /** True when one end is the edge of the field of view rather than a disc. */
  partial: boolean;
}

export interface NamedInterval {
  name: LevelName;
  interval: number;
  confidence: number;
}

export interface CountResult {
  named: NamedInterval[];
  t11Confidence: number;
  /** Why T11 has no usable level (null when it has one). */
  reason: string | null;
  evidence: string[];
}

export interface CountInput {
  intervals: Interval[];
  pairs: RibPair[];
  slices: number;
  sliceMm: number;
  /** Converts a fractional slice index to z in mm (for evidence text). */
  zAt: (slice: number) => number;
  /**
   * Per side and slice: volume (mm^3) of non-rib bone beside the spine where ribs cross, i.e.
   * transverse processes. Used to confirm that the first rib-free vertebra is lumbar.
   */
  nonRibBandMm3?: { right: Float64Array; left: Float64Array };
}

/** Each L1 transverse process is tens of mm^3 in the band; thoracic vertebrae show ~0-30 on one side. */
const L1_PROCESS_MM3 = 40;
const T12_LUMBAR_REASON = 'a vertebra read as thoracic (T11/T12) looks lumbar: rib-to-vertebra assignment uncertain';

/** Shortest plausible adult vertebral height, disc centre to disc centre (upper thoracic ~18 mm). */
const MIN_VERTEBRA_MM = 16;
/** Tallest plausible adult vertebral height, disc centre to disc centre (lumbar ~35-40 mm). */
const MAX_VERTEBRA_MM = 45;

const THORACIC: LevelName[] = ['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'T8', 'T9', 'T10', 'T11', 'T12'];
const LUMBAR: LevelName[] = ['L1', 'L2', 'L3', 'L4', 'L5'];

/**
 * Where a rib crosses the paravertebral band relative to the middle of its own vertebra, in
 * vertebral heights (positive = more caudal). Upper ribs rise from the head to the tubercle,
 * lower ribs fall steeply, so the crossing drifts from above the body (ribs 1-4) to below its
 * middle (ribs 11-12). Measured on the reference chest CT, rounded and kept deliberately mild.
 */
export function crossingShift(ribNumber: number): number {
  if (ribNumber <= 4) return -0.6;
  if (ribNumber <= 6) return -0.3;
  if (ribNumber <= 10) return 0;
  return 0.4;
}

function pairReach(p: RibPair): number {
  return Math.max(p.right?.reachMm ?? 0, p.left?.reachMm ?? 0);
}

/** Rib length only a lower bound on a side that is present (the rib leaves the bottom of the scan). */
function reachUnknown(p: RibPair): boolean {
  return !!(p.right?.reachTruncated || p.left?.reachTruncated);
}

function fmt(z: number): string {
  return z.toFixed(1);
}

function hasTransverseProcesses(input: CountInput, iv: Interval): boolean {
  const band = input.nonRibBandMm3;
  if (!band) return false;
  let right = 0;
  let left = 0;
  for (let k = Math.ceil(iv.upper); k <= Math.floor(iv.lower); k++) {
    right += band.right[k] ?? 0;
    left += band.left[k] ?? 0;
  }
  return right >= L1_PROCESS_MM3 && left >= L1_PROCESS_MM3;
}

export function countLevels(input: CountInput): CountResult {
  const { intervals, pairs, zAt } = input;
  const evidence: string[] = [];
  // Typical vertebral height (disc to disc) in slices; with fewer than three whole vertebrae in
  // view the median is not trusted and a lower-thoracic adult value is used.
  const full = intervals.filter((iv) => !iv.partial).map((iv) => iv.lower - iv.upper);
  const pitch = full.length >= 3 ? full.sort((a, b) => a - b)[full.length >> 1]! : 24 / input.sliceMm;

  const intervalOf = (slice: number): number => {
    for (let j = 0; j < intervals.length; j++) {
      const iv = intervals[j]!;
      if (slice >= iv.upper && slice < iv.lower) return j;
    }
    return slice < 0 ? -1 : intervals.length;
  };
  const predictedInterval = (pairIndex: number, ribNumber: number): number =>
    intervalOf(pairs[pairIndex]!.slice - crossingShift(ribNumber) * pitch);

  const m = pairs.length;
  evidence.push(
    m === 0
      ? 'no rib pair found beside the spine'
      : `${m} rib pair(s) found beside the spine at z ${pairs.map((p) => fmt(zAt(p.slice))).join(', ')} mm` +
          ` (${pairs.filter((p) => p.right && p.left).length} bilateral)`,
  );
  if (m === 0) return { named: [], t11Confidence: 0, reason: 'no ribs found: the vertebral level cannot be counted', evidence };

  // ---- top-down: is the uppermost pair rib 1?
  let topDown: number[] | null = null;
  const first = pairs[0]!;
  const nextReach = pairs.slice(1, 3).map(pairReach);
  // Rib 1 is much shorter than ribs 2-3; ribs 2 and 3 are similar. A short pair above another
  // short pair is a cervical rib above rib 1 (or two cut ribs): not counted from.
  const lengthsKnown = pairs.slice(0, 3).every((p) => !reachUnknown(p));
  const firstIsShort = m >= 3 && lengthsKnown && pairReach(first) <= 0.8 * Math.min(...nextReach);
  const secondIsNormal = nextReach.length === 2 && nextReach[0]! >= 0.75 * nextReach[1]!;
  if (firstIsShort && secondIsNormal) {
    topDown = pairs.map((_, i) => i + 1);
    evidence.push(
      `top-down: uppermost rib pair at z ${fmt(zAt(first.slice))} is short (reaches ${Math.round(pairReach(first))} mm vs ` +
        `${nextReach.map(Math.round).join('/')} mm below), read as the first rib: T1`,
    );
  } else {
    evidence.push('top-down count not possible: the first rib is not in view or not recognisable');
  }

  // ---- bottom-up: is the lowest pair rib 12, with a rib-free L1 fully in view below it?
  let bottomUp: number[] | null = null;
  let lastRibFloating = false;
  let l1Processes = false;
  let twoShortAtBottom = false;
  const last = pairs[m - 1]!;
  const lastInterval = predictedInterval(m - 1, 12);
  const below = intervals[lastInterval + 1];
  // L1 must be wholly in view to say it carries no rib: a 12th rib can cross beside the lower
  // half of T12 and the top of L1, so a cut vertebra below the last rib proves nothing.
  // It must also be as tall as a vertebra (a spurious disc inside T12 must not make a "rib-free L1").
  const belowTallEnough = !!below && (below.lower - below.upper) * input.sliceMm >= MIN_VERTEBRA_MM;
  if (lastInterval >= 0 && lastInterval < intervals.length && below && !below.partial && belowTallEnough) {
    bottomUp = pairs.map((_, i) => 12 - (m - 1 - i));
    // Floating = clearly shorter than the rib above (at most 70 %: rib 11 is itself only a little
    // shorter than rib 10, so a missed 12th rib must not let rib 11 pass); with no rib above in
    // view, or a last rib that leaves the scan (length unknown), it is unproven. (The rib above
    // may leave the scan: its true reach is then longer still, so the test holds.)
    const above = m >= 2 ? pairs[m - 2]! : null;
    lastRibFloating = !!above && !reachUnknown(last) && pairReach(last) <= 0.7 * pairReach(above);
    // Two short pairs at the bottom: the lower one may be a lumbar rib on L1 (13 pairs).
    const aboveAbove = m >= 3 ? pairs[m - 3]! : null;
    twoShortAtBottom = !!above && !!aboveAbove && !reachUnknown(above) && pairReach(above) <= 0.7 * pairReach(aboveAbove);
    l1Processes = hasTransverseProcesses(input, below);
    evidence.push(
      `bottom-up: lowest rib pair at z ${fmt(zAt(last.slice))} (reaches ${Math.round(pairReach(last))} mm` +
        `${lastRibFloating ? ', short floating rib' : m < 2 ? ', no rib above in view to compare' : reachUnknown(last) ? ', rib length unknown (leaves the scan)' : ', not shorter than the rib above'}` +
        `${last.right && last.left ? '' : ', one side only'})` +
        ` read as rib 12; the vertebra below (z ${fmt(zAt(below.upper))} to ${fmt(zAt(below.lower))}) carries no rib` +
        `${l1Processes ? ' and has transverse processes on both sides: L1' : ' but shows no lumbar transverse processes'}`,
    );
  } else {
    evidence.push('bottom-up count not possible: no whole rib-free vertebra in view below the lowest rib pair');
  }

  // ---- consistency: consecutive rib pairs on consecutive vertebrae, regular spacing.
  // Checked over the pairs the answer depends on (all of them counting from T1, the lowest four
  // counting up from T12); pairs cut by the FOV edge and partial vertebrae are left out because
  // their position is not measurable.
  const atEdge = (p: RibPair): boolean => !!(p.right?.atEdge || p.left?.atEdge);
  const consistencyOf = (numbers: number[], from: number, to = m - 1): { ok: boolean; note: string } => {
    let breaks = 0;
    for (let i = Math.max(1, from); i <= Math.min(m - 1, to); i++) {
      const a = pairs[i - 1]!;
      const b = pairs[i]!;
      if (atEdge(a) || atEdge(b)) continue;
      const ia = predictedInterval(i - 1, numbers[i - 1]!);
      const ib = predictedInterval(i, numbers[i]!);
      const partial = intervals[ia]?.partial !== false || intervals[ib]?.partial !== false;
      if (!partial && ib - ia !== 1) breaks++;
      const gap = b.slice - a.slice;
      if (gap < 0.55 * pitch || gap > 1.6 * pitch) breaks++;
    }
    return { ok: breaks === 0, note: breaks === 0 ? 'one rib pair per vertebra' : `${breaks} irregularities between rib pairs and disc spaces` };
  };

  let numbers: number[] | null = null;
  /** Confidence of the count itself; a level's own confidence can be lower (local disc problems). */
  let confidence = 0;
  let reason: string | null = null;
  if (topDown && bottomUp) {
    if (m === 12) {
      numbers = topDown;
      const c = consistencyOf(numbers, 0);
      confidence = 0.95;
      evidence.push(`top-down and bottom-up counts agree (12 rib pairs); ${c.note}`);
    } else {
      confidence = 0.2;
      evidence.push(`top-down and bottom-up counts disagree: ${m} rib pairs between the first rib and the first rib-free vertebra (12 expected)`);
      reason = `rib counts disagree (${m} rib pairs, 12 expected): possible 11 or 13 rib pairs or a transitional vertebra`;
    }
  } else if (bottomUp) {
    numbers = bottomUp;
    // Counting up from T12 depends on the lowest rib pairs and discs only.
    const c = consistencyOf(numbers, m - 4);
    const bilateral = !!(last.right && last.left);
    // Alone, the bottom-up count cannot see 11 rib pairs (a rib-less T12 looks like L1) or a missed
    // short 12th rib, so it needs every sign: floating last rib on both sides, and transverse
    // processes on the vertebra below.
    confidence = c.ok && lastRibFloating && bilateral && l1Processes && !twoShortAtBottom ? 0.75 : 0.45;
    evidence.push(`bottom-up count only (top of the thorax not counted); ${c.note} near T12`);
    if (!c.ok) reason = 'rib pairs and disc spaces do not match near T12: count uncertain';
    else if (!lastRibFloating) {
      reason =
        m < 2
          ? 'only one rib pair in view: the vertebral level cannot be confirmed'
          : 'lowest rib pair is not clearly a floating 12th rib: T12 not confirmed';
    }
    else if (!bilateral) reason = 'lowest rib found on one side only: T12 not confirmed';
    else if (!l1Processes) reason = 'first rib-free vertebra shows no lumbar transverse processes (possible 11 rib pairs): T12 not confirmed';
    else if (twoShortAtBottom) reason = 'two short rib pairs at the bottom (possible lumbar rib, 13 pairs): T12 not confirmed';
  } else if (topDown) {
    numbers = topDown;
    // Counting down from T1 depends on every rib pair: one missed or extra pair shifts all levels.
    const c = consistencyOf(numbers, 0);
    confidence = c.ok && m <= 12 ? 0.75 : 0.4;
    evidence.push(`top-down count only (T12/L1 not confirmed); ${c.note}`);
    if (m > 12) reason = `${m} rib pairs counted from the first rib (12 expected): count uncertain`;
    else if (!c.ok) reason = 'rib pairs and disc spaces do not match: count from T1 uncertain';
  } else {
    reason = 'neither the first rib (T1) nor the last rib-bearing vertebra (T12) could be identified';
  }

  const named: NamedInterval[] = [];
  let t11Confidence = confidence;
  if (numbers) {
    const byName = new Map<LevelName, { interval: number; pairIndex: number }>();
    numbers.forEach((n, i) => {
      const name = THORACIC[n - 1];
      if (name) byName.set(name, { interval: predictedInterval(i, n), pairIndex: i });
    });
    if (bottomUp || (topDown && m === 12)) {
      const t12 = byName.get('T12');
      if (t12 !== undefined) LUMBAR.forEach((name, i) => byName.set(name, { interval: t12.interval + 1 + i, pairIndex: t12.pairIndex }));
    }
    // A whole vertebra must be vertebra-sized: a spurious or missed disc makes it too short or
    // too tall, and then its extent (and mid-slice) would be wrong.
    const implausible = (iv: Interval): boolean => {
      const mm = (iv.lower - iv.upper) * input.sliceMm;
      return !iv.partial && (mm < MIN_VERTEBRA_MM || mm > MAX_VERTEBRA_MM);
    };
    // T11 and T12 carry no transverse processes to speak of (their ribs have no costotransverse
    // joint); lumbar-sized processes on both sides mean the counting is off by a vertebra.
    const lumbarLike = (['T11', 'T12'] as const).filter((name) => {
      const at = byName.get(name);
      const iv = at ? intervals[at.interval] : undefined;
      return !!iv && !iv.partial && hasTransverseProcesses(input, iv);
    });
    if (lumbarLike.length && confidence > 0.45) {
      confidence = 0.45;
      evidence.push(`the vertebra read as ${lumbarLike.join('/')} shows lumbar-like transverse processes on both sides`);
      reason ??= T12_LUMBAR_REASON;
    }
    // A level's extent depends on the discs next to it: checked on the rib pairs around it.
    const levelConfidence = (pairIndex: number): number =>
      consistencyOf(numbers!, pairIndex - 1, pairIndex + 2).ok ? confidence : Math.min(confidence, 0.5);
    for (const [name, { interval, pairIndex }] of byName) {
      const iv = intervals[interval];
      if (!iv) continue;
      if (implausible(iv)) {
        evidence.push(`${name}: disc-to-disc height ${((iv.lower - iv.upper) * input.sliceMm).toFixed(0)} mm is implausible; not reported`);
        continue;
      }
      const c = levelConfidence(pairIndex);
      if (name === 'T11') t11Confidence = c;
      named.push({ name, interval, confidence: c });
    }
    if (!reason) {
      const t11 = byName.get('T11');
      const iv = t11 === undefined ? undefined : intervals[t11.interval];
      if (iv && implausible(iv)) reason = 'T11 body boundaries not found reliably';
      else if (t11 === undefined) {
        const lowest = numbers[numbers.length - 1]!;
        reason = lowest < 11 ? `T11 not in view (rib count ends at T${lowest})` : 'T11 not in view (above the top of the scan)';
      } else if (!iv) reason = t11.interval < 0 ? 'T11 not fully in view (at the top edge of the scan)' : 'T11 not fully in view (at the bottom edge of the scan)';
      else if (iv.partial) reason = 'T11 only partly in view';
      else if (t11Confidence < confidence) reason = 'disc spaces around T11 do not match the rib pairs: T11 extent uncertain';
    }
  }
  return { named, t11Confidence, reason, evidence };
}
