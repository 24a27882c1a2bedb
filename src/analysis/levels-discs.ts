/**
 * Disc spaces along the spine: the intensity profile at the vertebral body centre of every slice
 * and the disc positions found on it. Pure: no I/O.
 */
import type { WorkGrid } from './levels-grid.ts';
import type { SpineTrack } from './levels-spine.ts';
import { median } from './levels-image.ts';

/**
 * Mean HU in a small disc at the vertebral body centre of every slice (clamped to -200..1000).
 * Discs, vacuum clefts and sclerotic endplates make it change sharply; body interiors are flat.
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
