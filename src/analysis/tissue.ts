/**
 * Tissue segmentation on one axial slice: body, muscle wall (SAT/VAT boundary), subcutaneous fat,
 * visceral fat and the erector spinae. Pure; works on any HU grid (CT volume slice or a cohort image
 * calibrated to HU). Assumes the canonical in-plane orientation the volume builder produces
 * (rows run anterior -> posterior, columns patient right -> left).
 *
 * Method (choices the paper leaves open, see method-facts.md):
 * 1. Body = largest non-air component after a small opening (cuts the table, tubes, blankets), holes filled.
 * 2. Muscle wall by ray casting from the body centre (as in published SAT/VAT separation methods):
 *    walking inward from the skin, the wall starts at the first run of (slightly closed) non-fat tissue
 *    at least MIN_WALL_MM thick; thinner runs are septa or vessels inside SAT. The per-ray radius is
 *    median-filtered over neighbouring rays (bridges gaps in a thin wall, ignores single septa).
 *    In front of the body centre the wall region is made convex (the anterior wall is convex; notches
 *    are rays that slipped through a thin linea alba). Behind the spine, fat in the midline groove
 *    behind the erector spinae that connects to the back's fat is given back to SAT.
 * 3. SAT = SAT-window fat outside the wall, minus the skin layer (skin/air partial volume);
 *    VAT = VAT-window fat inside the wall, minus pixels next to gas/lung (partial volume) and minus the
 *    paraspinal compartment behind the spinal canal (intermuscular fat of the back is not visceral).
 * 4. Erector spinae = muscle-window tissue behind the bony floor (lamina, transverse processes, ribs),
 *    within ERECTOR_MAX_LATERAL_MM of the spinous process, inside the wall, connected to a seed in the
 *    groove beside the spinous process on each side.
 */
import type { CtVolume, HuWindows, TissueMasks } from './types.ts';
import { PAPER_HU_WINDOWS } from './types.ts';
import {
  and,
  andNot,
  close,
  componentsTouching,
  count,
  dilate,
  erode,
  fillHoles,
  type Grid,
  largestComponent,
  open,
} from './morphology.ts';

/** Below this HU a voxel inside the body is gas or lung. */
const AIR_HU = -400;
/** Above this HU a voxel is "something" (not air / lung parenchyma): the body threshold. */
const BODY_THRESHOLD_HU = -500;
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
/** Pixels this close to the body surface are skin or skin/air partial volume, never subcutaneous fat. */
const SKIN_EXCLUDE_MM = 1.5;
const RAY_COUNT = 360;
/** Median filter half-width over rays (degrees): bridges wall gaps and ignores single septa. */
const WALL_SMOOTH_HALF_DEG = 10;
/** Bone threshold used to find the spine (osteopenic trabecular bone can be ~100 HU: cortex/processes are higher). */
const BONE_HU = 180;
/** How far either side of the spinous process the erector spinae may reach. */
const ERECTOR_MAX_LATERAL_MM = 75;
/** Mean HU across the midline band above which a row is (trabecular) bone rather than canal contents. */
const TRABECULAR_HU = 70;
/** The spinal canal is at least this deep (AP); shorter gaps along the midline are holes in bone. */
const MIN_CANAL_MM = 9;
/** Half width of the spinous process: no erector spinae within it. */
const SPINOUS_HALF_WIDTH_MM = 5;
/** Thin bridges (fascia contacts with latissimus/ribs muscles) cut before keeping the paraspinal components. */
const ERECTOR_SEPARATION_MM = 1.5;

export interface TissueSlice {
  hu: Int16Array | Float32Array;
  rows: number;
  columns: number;
  pixelSpacingMm: [number, number];
  paddingMask?: Uint8Array;
}

function emptyMasks(rows: number, columns: number): TissueMasks {
  const n = rows * columns;
  return {
    rows,
    columns,
    body: new Uint8Array(n),
    subcutaneousFat: new Uint8Array(n),
    visceralFat: new Uint8Array(n),
    erectorSpinae: new Uint8Array(n),
    insideWall: new Uint8Array(n),
  };
}

/** Body outline: largest non-air component, table removed, internal air (lungs, bowel gas) filled. */
export function segmentBody(slice: TissueSlice): Uint8Array {
  const { rows, columns, hu, paddingMask } = slice;
  const g: Grid = { rows, columns, spacingMm: slice.pixelSpacingMm };
  const solid = new Uint8Array(rows * columns);
  for (let i = 0; i < solid.length; i++) solid[i] = hu[i]! > BODY_THRESHOLD_HU && !paddingMask?.[i] ? 1 : 0;
  const core = largestComponent(open(solid, g, BODY_OPENING_MM), rows, columns);
  // Give back the skin detail removed by the opening, but only next to the kept component.
  const regrown = and(dilate(core, g, BODY_OPENING_MM + Math.max(...slice.pixelSpacingMm)), solid);
  const body = fillHoles(largestComponent(regrown, rows, columns), rows, columns);
  if (paddingMask) for (let i = 0; i < body.length; i++) if (paddingMask[i]) body[i] = 0;
  return body;
}

interface Centre {
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

export interface SpineLandmarks {
  /** Column of the spinous process (midline). */
  midColumn: number;
  /** Row of the anterior edge of the vertebral body. */
  bodyAnteriorRow: number;
  /** Row of the spinal canal centre (or the best estimate). */
  canalRow: number;
  /** Row of the tip of the spinous process (most posterior bone at the midline). */
  spinousTipRow: number;
}

/**
 * Finds the spine in the posterior half of the wall region: the midline is the column of the most
 * posterior bone near the centre; along it, body - canal - posterior arch are read as bone/gap/bone.
 */
export function findSpine(slice: TissueSlice, insideWall: Uint8Array, centre: Centre | null): SpineLandmarks | null {
  const { rows, columns, hu } = slice;
  const [sy, sx] = slice.pixelSpacingMm;
  if (!centre) return null;
  const cc = Math.round(centre.colMm / sx);
  const cr = Math.round(centre.rowMm / sy);
  const halfWidth = Math.round(40 / sx);
  let bestRow = -1;
  let bestCol = -1;
  // Most posterior bone within +-40 mm of the centre column, behind the centre.
  for (let c = Math.max(0, cc - halfWidth); c <= Math.min(columns - 1, cc + halfWidth); c++) {
    for (let r = rows - 1; r > cr; r--) {
      const i = r * columns + c;
      if (insideWall[i] && hu[i]! >= BONE_HU) {
        if (r > bestRow) {
          bestRow = r;
          bestCol = c;
        }
        break;
      }
    }
  }
  if (bestRow < 0) return null;
  // The spinous process may be slanted: use the bone-weighted column around the tip as midline.
  const band = Math.round(6 / sx);
  // Profile along the midline (+-band columns): fraction of bone per row.
  // Cortex (>= BONE_HU) or trabecular bone (band mean >= TRABECULAR_HU): an osteopenic or 3 mm vertebral
  // body shows only its cortical ring above BONE_HU, while the canal (CSF, cord) stays near 0-40 HU.
  const isBoneRow = (r: number): boolean => {
    let n = 0;
    let sum = 0;
    let m = 0;
    for (let c = Math.max(0, bestCol - band); c <= Math.min(columns - 1, bestCol + band); c++) {
      const v = hu[r * columns + c]!;
      if (v >= BONE_HU) n++;
      sum += v;
      m++;
    }
    return n >= 2 || (m > 0 && sum / m >= TRABECULAR_HU);
  };
  // Walk anteriorly from the tip and read the midline as runs: posterior arch (bone, with small gaps in a
  // thin or osteopenic spinous process), canal (a gap of at least MIN_CANAL_MM), body (bone).
  const minRow = Math.max(0, cr - Math.round(60 / sy));
  const runs: { bone: boolean; from: number; to: number }[] = [];
  for (let r = bestRow; r >= minRow; r--) {
    const bone = isBoneRow(r);
    const last = runs[runs.length - 1];
    if (last && last.bone === bone) last.to = r;
    else runs.push({ bone, from: r, to: r });
  }
  // Merge short gaps into the surrounding bone (trabecular holes, gaps along a slanted process).
  const minCanal = Math.round(MIN_CANAL_MM / sy);
  const merged: { bone: boolean; from: number; to: number }[] = [];
  for (const run of runs) {
    const len = run.from - run.to + 1;
    const prev = merged[merged.length - 1];
    if (!run.bone && len < minCanal && prev?.bone) {
      prev.to = run.to;
      continue;
    }
    if (prev && prev.bone === run.bone) prev.to = run.to;
    else merged.push({ ...run });
  }
  const arch = merged[0];
  const canal = merged[1];
  const body = merged[2];
  const canalFound = !!(arch?.bone && canal && !canal.bone && body?.bone && body.from - body.to + 1 >= Math.round(10 / sy));
  const canalRow = canalFound ? Math.round((canal!.from + canal!.to) / 2) : bestRow - Math.round(30 / sy);
  const bodyFront = canalFound ? body!.to : bestRow - Math.round(70 / sy);
  return {
    midColumn: bestCol,
    bodyAnteriorRow: bodyFront,
    canalRow,
    spinousTipRow: bestRow,
  };
}

/** Paraspinal muscle (erector spinae, left + right) behind the canal, see the file comment. */
export function segmentErectorSpinae(
  slice: TissueSlice,
  insideWall: Uint8Array,
  spine: SpineLandmarks | null,
  windows: HuWindows,
): Uint8Array {
  const { rows, columns, hu } = slice;
  const [sy, sx] = slice.pixelSpacingMm;
  const g: Grid = { rows, columns, spacingMm: slice.pixelSpacingMm };
  const out = new Uint8Array(rows * columns);
  if (!spine) return out;
  const [mLo, mHi] = windows.muscle;
  const maxLat = Math.round(ERECTOR_MAX_LATERAL_MM / sx);
  const c0 = Math.max(0, spine.midColumn - maxLat);
  const c1 = Math.min(columns - 1, spine.midColumn + maxLat);
  // Anterior limit per column: the most posterior bone (lamina, transverse process, rib) behind the canal.
  // The erector spinae lie behind that bony floor; in front of it are lung, diaphragm, kidney, psoas.
  const searchFrom = Math.max(0, spine.canalRow - Math.round(10 / sy));
  const floorRow = new Float64Array(columns).fill(NaN);
  for (let c = c0; c <= c1; c++) {
    for (let r = rows - 1; r >= searchFrom; r--) {
      const i = r * columns + c;
      if (insideWall[i] && hu[i]! >= BONE_HU) {
        floorRow[c] = r;
        break;
      }
    }
  }
  // Between bones (rib and transverse process do not always share a slice): interpolate the floor;
  // lateral to the last bone on a side the floor stays at that bone's row.
  for (const side of [-1, 1]) {
    // Start beside the spinous process (its tip is far behind the lamina and would lift the floor).
    const skip = Math.round(SPINOUS_HALF_WIDTH_MM / sx);
    let lastC = spine.midColumn + side * skip;
    let lastR = spine.canalRow;
    for (let d = 0; d < skip; d++) floorRow[spine.midColumn + side * d] = spine.spinousTipRow;
    for (let d = skip + 1; d <= maxLat; d++) {
      const c = spine.midColumn + side * d;
      if (c < c0 || c > c1) break;
      if (Number.isFinite(floorRow[c]!)) {
        // fill the gap (lastC, c) linearly
        for (let e = 1; e < Math.abs(c - lastC); e++) {
          const cc = lastC + side * e;
          floorRow[cc] = lastR + ((floorRow[c]! - lastR) * e) / Math.abs(c - lastC);
        }
        lastC = c;
        lastR = floorRow[c]!;
      }
    }
    for (let d = Math.abs(lastC - spine.midColumn) + 1; d <= maxLat; d++) {
      const c = spine.midColumn + side * d;
      if (c >= c0 && c <= c1) floorRow[c] = Math.max(lastR, spine.canalRow);
    }
  }
  const roi = new Uint8Array(rows * columns);
  for (let c = c0; c <= c1; c++) {
    const from = Math.max(spine.canalRow, Math.ceil(floorRow[c]!) + 1);
    for (let r = from; r < rows; r++) {
      const i = r * columns + c;
      const v = hu[i]!;
      if (insideWall[i] && v >= mLo && v <= mHi && !slice.paddingMask?.[i]) roi[i] = 1;
    }
  }
  // Seeds: the groove right next to the spinous process, each side, a little behind the canal.
  const seeds = new Uint8Array(rows * columns);
  const seedRow0 = spine.canalRow;
  const seedRow1 = spine.spinousTipRow;
  for (const side of [-1, 1]) {
    for (let r = seedRow0; r <= seedRow1; r++) {
      for (let d = Math.round(8 / sx); d <= Math.round(30 / sx); d++) {
        const c = spine.midColumn + side * d;
        if (c >= 0 && c < columns && roi[r * columns + c]) seeds[r * columns + c] = 1;
      }
    }
  }
  const separated = erode(roi, g, ERECTOR_SEPARATION_MM);
  const kept = componentsTouching(separated, seeds, rows, columns);
  const regrown = and(dilate(kept, g, ERECTOR_SEPARATION_MM + 0.5 * Math.max(sy, sx)), roi);
  for (let i = 0; i < out.length; i++) out[i] = regrown[i]!;
  return out;
}

/**
 * The smoothed wall bridges the midline groove between the two erector spinae bellies, but the fat
 * there (behind the muscles, continuous with the back's subcutaneous fat) is subcutaneous: give the
 * wall region back any fat behind the erector spinae in its column that connects to the outside.
 */
function releasePosteriorGroove(
  slice: TissueSlice,
  body: Uint8Array,
  insideWall: Uint8Array,
  erector: Uint8Array,
  spine: SpineLandmarks,
  windows: HuWindows,
): void {
  const { rows, columns, hu } = slice;
  const [fLo, fHi] = windows.subcutaneousFat;
  const maxLat = Math.round(ERECTOR_MAX_LATERAL_MM / slice.pixelSpacingMm[1]);
  const c0 = Math.max(0, spine.midColumn - maxLat);
  const c1 = Math.min(columns - 1, spine.midColumn + maxLat);
  const candidate = new Uint8Array(rows * columns);
  for (let c = c0; c <= c1; c++) {
    let lastMuscle = spine.canalRow;
    for (let r = rows - 1; r >= spine.canalRow; r--) {
      if (erector[r * columns + c]) {
        lastMuscle = r;
        break;
      }
    }
    for (let r = Math.max(lastMuscle + 1, spine.spinousTipRow - Math.round(20 / slice.pixelSpacingMm[0])); r < rows; r++) {
      const i = r * columns + c;
      const v = hu[i]!;
      if (insideWall[i] && body[i] && !slice.paddingMask?.[i] && v >= fLo && v <= fHi) candidate[i] = 1;
    }
  }
  // Seeds: candidates touching body outside the wall.
  const seeds = new Uint8Array(rows * columns);
  for (let i = 0; i < candidate.length; i++) {
    if (!candidate[i]) continue;
    const c = i % columns;
    const nb = [c > 0 ? i - 1 : -1, c < columns - 1 ? i + 1 : -1, i - columns, i + columns];
    if (nb.some((j) => j >= 0 && j < candidate.length && body[j] && !insideWall[j])) seeds[i] = 1;
  }
  const released = componentsTouching(candidate, seeds, rows, columns);
  for (let i = 0; i < released.length; i++) if (released[i]) insideWall[i] = 0;
}

/** The full set of masks on one 2-D HU slice (also used on cohort images calibrated to HU). */
export function segmentTissuesOnSlice(slice: TissueSlice, windows: HuWindows = PAPER_HU_WINDOWS): TissueMasks {
  const { rows, columns, hu } = slice;
  if (hu.length !== rows * columns) throw new RangeError(`slice has ${hu.length} voxels, expected ${rows}x${columns}`);
  const masks = emptyMasks(rows, columns);
  const body = segmentBody(slice);
  if (count(body) === 0) return masks;
  const { insideWall, centre } = segmentInsideWall(slice, body, windows);
  const spine = findSpine(slice, insideWall, centre);
  const erector = segmentErectorSpinae(slice, insideWall, spine, windows);
  if (spine) releasePosteriorGroove(slice, body, insideWall, erector, spine, windows);
  const [sLo, sHi] = windows.subcutaneousFat;
  const [vLo, vHi] = windows.visceralFat;
  // Paraspinal compartment: behind the front of the vertebral body and within the erector reach.
  const paraspinalRow = spine ? spine.canalRow : rows;
  const g: Grid = { rows, columns, spacingMm: slice.pixelSpacingMm };
  const notSkin = erode(body, g, Math.max(SKIN_EXCLUDE_MM, ...slice.pixelSpacingMm));
  const maxLat = Math.round(ERECTOR_MAX_LATERAL_MM / slice.pixelSpacingMm[1]);
  // Pixels next to gas or lung mix air and soft tissue into fat-like HU (partial volume): never VAT.
  const air = new Uint8Array(rows * columns);
  for (let i = 0; i < air.length; i++) air[i] = body[i] && hu[i]! < AIR_HU ? 1 : 0;
  const nearAir = dilate(air, g, Math.max(...slice.pixelSpacingMm));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      if (!body[i] || slice.paddingMask?.[i]) continue;
      const v = hu[i]!;
      if (!insideWall[i]) {
        if (v >= sLo && v <= sHi && notSkin[i]) masks.subcutaneousFat[i] = 1;
      } else if (v >= vLo && v <= vHi) {
        const paraspinal = spine !== null && r >= paraspinalRow && Math.abs(c - spine.midColumn) <= maxLat;
        if (!paraspinal && !nearAir[i]) masks.visceralFat[i] = 1;
      }
    }
  }
  masks.body = body;
  masks.insideWall = insideWall;
  masks.erectorSpinae = andNot(erector, masks.visceralFat);
  return masks;
}

/** Masks at one slice of a CT volume (slice index into the head-first volume). */
export function segmentTissues(volume: CtVolume, sliceIndex: number, windows: HuWindows = PAPER_HU_WINDOWS): TissueMasks {
  if (!Number.isInteger(sliceIndex) || sliceIndex < 0 || sliceIndex >= volume.slices) {
    throw new RangeError(`slice index ${sliceIndex} outside the volume (0..${volume.slices - 1})`);
  }
  const n = volume.rows * volume.columns;
  return segmentTissuesOnSlice(
    {
      hu: volume.hu.subarray(sliceIndex * n, (sliceIndex + 1) * n),
      rows: volume.rows,
      columns: volume.columns,
      pixelSpacingMm: volume.pixelSpacingMm,
      paddingMask: volume.paddingMask.subarray(sliceIndex * n, (sliceIndex + 1) * n),
    },
    windows,
  );
}
