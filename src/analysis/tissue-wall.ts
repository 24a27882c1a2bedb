/**
 * Body outline and the muscle wall (the SAT/VAT boundary) on one axial HU slice; see tissue.ts for
 * the method overview. Pure. Canonical orientation: rows anterior -> posterior.
 */
import type { HuWindows } from './types.ts';
import { and, close, count, dilate, erode, fillHoles, type Grid, labelComponents, largestComponent, open } from './morphology.ts';

/** Above this HU a voxel is "something" (not air / lung parenchyma): the body threshold. */
const BODY_THRESHOLD_HU = -500;
/** Opening radius that cuts a limb from the trunk where they only touch (a contact narrower than 2x this). */
const LIMB_NECK_MM = 15;
/** A part this large (share of the body area) cut off by that opening is a limb, not a skin fold. */
const LIMB_MIN_FRACTION = 0.03;
/** The limb is removed together with this rim (the opening shaves its skin edge). */
const LIMB_RIM_MM = 2;
/** Opening radius that separates the patient from the table top, cables and blankets. */
const BODY_OPENING_MM = 3;
/** Skin (dermis) is non-fat soft tissue at the surface; allow this much before subcutaneous fat starts. */
const SKIN_MAX_MM = 4;
/** A run of (closed) non-fat tissue this thick, after the subcutaneous fat, is the muscle wall (thinner = septum/vessel). */
const MIN_WALL_MM = 3;
/** How far (pixels) inside the first wall sample the SAT/wall boundary is placed. */
const WALL_INWARD_BIAS_PX = 0.5;
/** Closing radius that merges fatty/mottled muscle and thin muscle layers on the ribs into one wall. */
const WALL_CLOSING_MM = 2.5;
/** Fill the convex hull of the wall region in front of the body centre (see segmentInsideWall). */
const ANTERIOR_CONVEX_HULL = true;
const RAY_COUNT = 360;
/** Median filter half-width over rays (degrees): bridges wall gaps and ignores single septa. */
const WALL_SMOOTH_HALF_DEG = 10;

export interface TissueSlice {
  hu: Int16Array | Float32Array;
  rows: number;
  columns: number;
  pixelSpacingMm: [number, number];
  paddingMask?: Uint8Array;
}
/** Body outline: largest non-air component, table removed, internal air (lungs, bowel gas) filled. */
export function segmentBody(slice: TissueSlice): Uint8Array {
  return segmentBodyWithNotes(slice).body;
}

/**
 * Body outline plus whether a limb had to be cut off it: an arm lying against the trunk (PET/CT,
 * arms down) joins the outline through a narrow contact; opening with LIMB_NECK_MM cuts that contact,
 * the trunk is the largest part, and only the trunk (with its skin detail) is kept.
 */
export function segmentBodyWithNotes(slice: TissueSlice): { body: Uint8Array; limbRemoved: boolean } {
  const { rows, columns, hu, paddingMask } = slice;
  const g: Grid = { rows, columns, spacingMm: slice.pixelSpacingMm };
  const solid = new Uint8Array(rows * columns);
  for (let i = 0; i < solid.length; i++) solid[i] = hu[i]! > BODY_THRESHOLD_HU && !paddingMask?.[i] ? 1 : 0;
  const core = largestComponent(open(solid, g, BODY_OPENING_MM), rows, columns);
  // Give back the skin detail removed by the opening, but only next to the kept component.
  const regrown = and(dilate(core, g, BODY_OPENING_MM + Math.max(...slice.pixelSpacingMm)), solid);
  let body = fillHoles(largestComponent(regrown, rows, columns), rows, columns);
  let limbRemoved = false;
  const total = count(body);
  if (total > 0) {
    const { labels, sizes } = labelComponents(open(body, g, LIMB_NECK_MM), rows, columns);
    const large = sizes.map((n, l) => [n, l] as const).filter(([n, l]) => l > 0 && n >= LIMB_MIN_FRACTION * total);
    if (large.length >= 2) {
      const trunkLabel = large.reduce((a, b) => (b[0] > a[0] ? b : a))[1];
      const limbLabels = new Set(large.filter(([, l]) => l !== trunkLabel).map(([, l]) => l));
      const limbs = new Uint8Array(body.length);
      for (let i = 0; i < limbs.length; i++) limbs[i] = limbLabels.has(labels[i]!) ? 1 : 0;
      // Remove the limbs (plus their rim) and keep the trunk: trunk protrusions the opening removed stay.
      const cut = dilate(limbs, g, LIMB_RIM_MM + Math.max(...slice.pixelSpacingMm));
      const trunk = new Uint8Array(body.length);
      for (let i = 0; i < trunk.length; i++) trunk[i] = body[i] && !cut[i] ? 1 : 0;
      body = fillHoles(largestComponent(trunk, rows, columns), rows, columns);
      limbRemoved = true;
    }
  }
  if (paddingMask) for (let i = 0; i < body.length; i++) if (paddingMask[i]) body[i] = 0;
  return { body, limbRemoved };
}

export interface Centre {
  rowMm: number;
  colMm: number;
}

function centroidMm(mask: Uint8Array, g: Grid): Centre | null {
  let sr = 0;
  let sc = 0;
  let n = 0;
  for (let r = 0; r < g.rows; r++) {
    for (let c = 0; c < g.columns; c++) {
      if (mask[r * g.columns + c]) {
        sr += r;
        sc += c;
        n++;
      }
    }
  }
  return n ? { rowMm: (sr / n) * g.spacingMm[0], colMm: (sc / n) * g.spacingMm[1] } : null;
}

function circularMedian(values: number[], half: number): number[] {
  const n = values.length;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const w: number[] = [];
    for (let k = -half; k <= half; k++) {
      const v = values[(i + k + n) % n]!;
      if (Number.isFinite(v)) w.push(v);
    }
    w.sort((a, b) => a - b);
    out[i] = w.length ? w[Math.floor(w.length / 2)]! : NaN;
  }
  return out;
}

function circularMean(values: number[], half: number): number[] {
  const n = values.length;
  return values.map((_, i) => {
    let s = 0;
    let k = 0;
    for (let d = -half; d <= half; d++) {
      const v = values[(i + d + n) % n]!;
      if (Number.isFinite(v)) (s += v), k++;
    }
    return k ? s / k : NaN;
  });
}

/** Monotone-chain convex hull of integer points (returns counter-clockwise, no duplicates). */
function convexHull(points: [number, number][]): [number, number][] {
  const p = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o: [number, number], a: [number, number], b: [number, number]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: [number, number][] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: [number, number][] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** Adds to `region` every body pixel above `lastRow` that lies in the convex hull of the region's part above it. */
function fillAnteriorConvexHull(region: Uint8Array, body: Uint8Array, rows: number, columns: number, lastRow: number): void {
  // Row extremes are enough to define the hull of a row-scanned mask.
  const pts: [number, number][] = [];
  for (let r = 0; r < Math.min(rows, lastRow + 1); r++) {
    let first = -1;
    let last = -1;
    for (let c = 0; c < columns; c++) {
      if (region[r * columns + c]) {
        if (first < 0) first = c;
        last = c;
      }
    }
    if (first >= 0) pts.push([first, r], [last, r]);
  }
  const hull = convexHull(pts);
  if (hull.length < 3) return;
  // For each row, the hull spans [xmin, xmax]: intersect each hull edge with the row.
  for (let r = 0; r < Math.min(rows, lastRow + 1); r++) {
    let xmin = Infinity;
    let xmax = -Infinity;
    for (let k = 0; k < hull.length; k++) {
      const [x0, y0] = hull[k]!;
      const [x1, y1] = hull[(k + 1) % hull.length]!;
      if ((r < y0 && r < y1) || (r > y0 && r > y1)) continue;
      if (y0 === y1) {
        xmin = Math.min(xmin, x0, x1);
        xmax = Math.max(xmax, x0, x1);
        continue;
      }
      const x = x0 + ((r - y0) * (x1 - x0)) / (y1 - y0);
      xmin = Math.min(xmin, x);
      xmax = Math.max(xmax, x);
    }
    if (!Number.isFinite(xmin)) continue;
    for (let c = Math.ceil(xmin); c <= Math.floor(xmax); c++) if (body[r * columns + c]) region[r * columns + c] = 1;
  }
}

/**
 * Inner region of the muscle wall by ray casting from the body centre; see the file comment.
 * Returns the mask and the per-ray wall radius (mm) for the QA picture.
 */
export function segmentInsideWall(
  slice: TissueSlice,
  body: Uint8Array,
  windows: HuWindows,
): { insideWall: Uint8Array; wallRadiusMm: number[]; rawWallRadiusMm: number[]; wallTissue: Uint8Array; centre: Centre | null } {
  const { rows, columns, hu } = slice;
  const [sy, sx] = slice.pixelSpacingMm;
  const g: Grid = { rows, columns, spacingMm: slice.pixelSpacingMm };
  const insideWall = new Uint8Array(rows * columns);
  const centre = centroidMm(body, g);
  if (!centre) return { insideWall, wallRadiusMm: [], rawWallRadiusMm: [], wallTissue: new Uint8Array(rows * columns), centre };
  const step = 0.5 * Math.min(sy, sx);
  const [fatLo, fatHi] = windows.subcutaneousFat;
  // Wall candidates: everything that is not fat (muscle, bone, organs, lung air), below the skin band,
  // closed so that fatty/mottled muscle and thin muscle layers lying on the ribs read as one solid wall.
  const nonFat = new Uint8Array(rows * columns);
  for (let i = 0; i < nonFat.length; i++) {
    const v = hu[i]!;
    nonFat[i] = body[i] && !(v >= fatLo && v <= fatHi) ? 1 : 0;
  }
  const belowSkin = erode(body, g, SKIN_MAX_MM);
  const wallTissue = close(and(nonFat, belowSkin), g, WALL_CLOSING_MM);
  const maxR = Math.hypot(rows * sy, columns * sx);
  const at = (rowMm: number, colMm: number): number => {
    const r = Math.round(rowMm / sy);
    const c = Math.round(colMm / sx);
    return r < 0 || c < 0 || r >= rows || c >= columns ? -1 : r * columns + c;
  };
  const raw: number[] = [];
  for (let a = 0; a < RAY_COUNT; a++) {
    const th = (2 * Math.PI * a) / RAY_COUNT;
    const dr = Math.sin(th);
    const dc = Math.cos(th);
    // Outermost body sample along the ray = skin surface.
    let edge = -1;
    for (let t = 0; t < maxR; t += step) {
      const i = at(centre.rowMm + t * dr, centre.colMm + t * dc);
      if (i < 0) break;
      if (body[i]) edge = t;
    }
    if (edge <= 0) {
      raw.push(NaN);
      continue;
    }
    // Walk inward: the wall starts at the first run of wall tissue at least MIN_WALL_MM thick.
    let runStart = -1;
    let wall = NaN;
    for (let t = edge; t >= 0; t -= step) {
      const i = at(centre.rowMm + t * dr, centre.colMm + t * dc);
      if (i >= 0 && wallTissue[i]) {
        if (runStart < 0) runStart = t;
        if (runStart - t >= MIN_WALL_MM) {
          // Nearest-pixel sampling puts runStart up to half a pixel outside the first wall pixel centre.
          wall = runStart - WALL_INWARD_BIAS_PX * Math.min(sy, sx);
          break;
        }
      } else {
        runStart = -1;
      }
    }
    raw.push(wall);
  }
  const half = Math.round((WALL_SMOOTH_HALF_DEG / 360) * RAY_COUNT);
  let wallRadiusMm = circularMedian(raw, half);
  // Rays with no wall found at all (rare): take the neighbours' value.
  if (wallRadiusMm.some((v) => !Number.isFinite(v))) wallRadiusMm = circularMedian(wallRadiusMm, RAY_COUNT / 8);
  // A short moving average after the median: removes ray-to-ray striping where the median flips.
  wallRadiusMm = circularMean(wallRadiusMm, Math.max(1, Math.round(half / 3)));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      if (!body[i]) continue;
      const y = r * sy - centre.rowMm;
      const x = c * sx - centre.colMm;
      let th = Math.atan2(y, x);
      if (th < 0) th += 2 * Math.PI;
      const f = (th / (2 * Math.PI)) * RAY_COUNT;
      const a0 = Math.floor(f) % RAY_COUNT;
      const a1 = (a0 + 1) % RAY_COUNT;
      const w = f - Math.floor(f);
      const r0 = wallRadiusMm[a0]!;
      const r1 = wallRadiusMm[a1]!;
      const limit = Number.isFinite(r0) && Number.isFinite(r1) ? r0 * (1 - w) + r1 * w : Number.isFinite(r0) ? r0 : r1;
      if (Number.isFinite(limit) && Math.hypot(x, y) <= limit) insideWall[i] = 1;
    }
  }
  // The anterior wall is convex: a notch there is rays slipping through a thin linea alba into
  // preperitoneal fat. Fill the convex hull of the wall region in front of the centre only;
  // posteriorly the paraspinal groove is real anatomy.
  const centreRow = Math.round(centre.rowMm / sy);
  if (ANTERIOR_CONVEX_HULL) fillAnteriorConvexHull(insideWall, body, rows, columns, centreRow);
  return { insideWall, wallRadiusMm, rawWallRadiusMm: raw, wallTissue, centre };
}
