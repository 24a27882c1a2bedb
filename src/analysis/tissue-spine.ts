/**
 * Spine landmarks and the erector spinae on one axial HU slice, plus the midline-groove correction
 * of the wall; see tissue.ts for the method overview. Pure. Canonical orientation: rows anterior ->
 * posterior, the spinous process is the most posterior bone near the midline.
 */
import type { HuWindows } from './types.ts';
import { and, componentsTouching, dilate, erode, fillHoles, type Grid } from './morphology.ts';
import type { Centre, TissueSlice } from './tissue-wall.ts';

/** Bone threshold used to find the spine (osteopenic trabecular bone can be ~100 HU: cortex/processes are higher). */
const BONE_HU = 180;
/** How far either side of the spinous process the erector spinae may reach. */
export const ERECTOR_MAX_LATERAL_MM = 75;
/** Mean HU across the midline band above which a row is (trabecular) bone rather than canal contents. */
const TRABECULAR_HU = 70;
/** The spinal canal is at least this deep (AP); shorter gaps along the midline are holes in bone. */
const MIN_CANAL_MM = 9;
/** Half width of the spinous process: no erector spinae within it. */
const SPINOUS_HALF_WIDTH_MM = 5;
/** Thin bridges (fascia contacts with latissimus/ribs muscles) cut before keeping the paraspinal components. */
const ERECTOR_SEPARATION_MM = 1.5;

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
  options: { ribReachMm?: number } = {},
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
  // Bone is looked for this far beyond the muscle's reach, so that the floor runs on to a rib lying
  // just lateral of it instead of staying flat at the transverse process.
  const floorLat = maxLat + Math.round((options.ribReachMm ?? 0) / sx);
  const f0 = Math.max(0, spine.midColumn - floorLat);
  const f1 = Math.min(columns - 1, spine.midColumn + floorLat);
  // Anterior limit per column: the most posterior bone (lamina, transverse process, rib) behind the canal.
  // The erector spinae lie behind that bony floor; in front of it are lung, diaphragm, kidney, psoas.
  const searchFrom = Math.max(0, spine.canalRow - Math.round(10 / sy));
  const floorRow = new Float64Array(columns).fill(NaN);
  for (let c = f0; c <= f1; c++) {
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
    for (let d = skip + 1; d <= floorLat; d++) {
      const c = spine.midColumn + side * d;
      if (c < f0 || c > f1) break;
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
    for (let d = Math.abs(lastC - spine.midColumn) + 1; d <= floorLat; d++) {
      const c = spine.midColumn + side * d;
      if (c >= f0 && c <= f1) floorRow[c] = Math.max(lastR, spine.canalRow);
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
export function releasePosteriorGroove(
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

/**
 * Removes the erector spinae's outer pixel layer where it borders soft tissue or fat (not bone).
 * The thoracolumbar fascia and the epimysium are dense connective tissue with muscle-window HU, so a
 * threshold cannot tell them from muscle; the outermost layer of the thresholded region is that
 * sheath plus partial volume with the fat or neighbouring muscle beyond it (latissimus dorsi,
 * serratus posterior). Borders on bone (lamina, transverse process, rib, spinous process) are sharp
 * and keep their pixels: muscle attaches there directly. Holes inside the muscle (intramuscular fat, or
 * noise on thin high-resolution slices) are no sheath: only the outer border is trimmed.
 */
export function trimFascialRim(slice: TissueSlice, erector: Uint8Array): Uint8Array {
  const { rows, columns, hu } = slice;
  const out = new Uint8Array(erector);
  const filled = fillHoles(erector, rows, columns);
  const keeps = (j: number) => filled[j] === 1 || hu[j]! >= BONE_HU;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      if (!erector[i]) continue;
      const onRim =
        (c > 0 && !keeps(i - 1)) || (c < columns - 1 && !keeps(i + 1)) || (r > 0 && !keeps(i - columns)) || (r < rows - 1 && !keeps(i + columns));
      if (onRim) out[i] = 0;
    }
  }
  return out;
}
