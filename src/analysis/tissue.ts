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
 *    groove beside the spinous process on each side. Its outer pixel layer facing soft tissue or fat
 *    (not bone) is trimmed: the fascial sheath plus partial volume, which has muscle-window HU.
 */
import type { CtVolume, HuWindows, TissueMasks } from './types.ts';
import { PAPER_HU_WINDOWS } from './types.ts';
import { andNot, count, dilate, erode, type Grid } from './morphology.ts';
import { segmentBodyWithNotes, segmentInsideWall, type TissueSlice } from './tissue-wall.ts';
import { slicePaddingMask } from './volume.ts';
import { ERECTOR_MAX_LATERAL_MM, findSpine, releasePosteriorGroove, segmentErectorSpinae, trimFascialRim } from './tissue-spine.ts';

export { segmentBody, segmentInsideWall, type TissueSlice } from './tissue-wall.ts';
export { findSpine, segmentErectorSpinae, type SpineLandmarks } from './tissue-spine.ts';

/** Below this HU a voxel inside the body is gas or lung. */
const AIR_HU = -400;
/** Pixels this close to the body surface are skin or skin/air partial volume, never subcutaneous fat. */
const SKIN_EXCLUDE_MM = 1.5;
/** Ribs this far beyond the erector spinae's lateral reach still shape its anterior floor. */
const RIB_REACH_MM = 40;

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
/** The full set of masks on one 2-D HU slice (also used on cohort images calibrated to HU). */
export function segmentTissuesOnSlice(slice: TissueSlice, windows: HuWindows = PAPER_HU_WINDOWS): TissueMasks {
  const { rows, columns, hu } = slice;
  if (hu.length !== rows * columns) throw new RangeError(`slice has ${hu.length} voxels, expected ${rows}x${columns}`);
  const masks = emptyMasks(rows, columns);
  const { body, limbRemoved } = segmentBodyWithNotes(slice);
  if (count(body) === 0) return masks;
  if (limbRemoved) masks.notes = ['an arm touching the trunk was cut off the body outline at the narrow contact: check the QA picture'];
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
  // The reported muscle is redone with the floor running on to the ribs and trimmed only now: the
  // wall and groove steps above keep the coarser muscle they were tuned with (SAT stays as it was).
  const reported = segmentErectorSpinae(slice, insideWall, spine, windows, { ribReachMm: RIB_REACH_MM });
  masks.erectorSpinae = trimFascialRim(slice, andNot(reported, masks.visceralFat));
  return masks;
}

/** Masks at one slice of a CT volume (slice index into the head-first volume). */
export function segmentTissues(volume: CtVolume, sliceIndex: number, windows: HuWindows = PAPER_HU_WINDOWS): TissueMasks {
  if (!Number.isInteger(sliceIndex) || sliceIndex < 0 || sliceIndex >= volume.slices) {
    throw new RangeError(`slice index ${sliceIndex} outside the volume (0..${volume.slices - 1})`);
  }
  return segmentTissuesOnSlice(axialSlice(volume, sliceIndex), windows);
}

/**
 * One axial slice of a CT volume as a TissueSlice (HU is a view, not a copy). The padding mask is
 * built for this slice only, not through the volume-wide `paddingMask`.
 */
export function axialSlice(volume: CtVolume, sliceIndex: number): TissueSlice {
  const n = volume.rows * volume.columns;
  return {
    hu: volume.hu.subarray(sliceIndex * n, (sliceIndex + 1) * n),
    rows: volume.rows,
    columns: volume.columns,
    pixelSpacingMm: volume.pixelSpacingMm,
    paddingMask: slicePaddingMask(volume, sliceIndex),
  };
}
