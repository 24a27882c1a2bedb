/**
 * A set of DICOM instances -> one axial CT volume in HU, head first.
 *
 * - Reads headers of every input, excludes what is not an axial single-frame CT image
 *   (localizers, other modalities, sagittal/coronal reformats, unreadable files, unsupported syntaxes),
 *   groups the rest by series and geometry, keeps the largest group, lists everything else in `excluded`.
 * - Sorts by position along the slice normal (never by InstanceNumber, which may run either way).
 * - Refuses gantry-tilted / sheared stacks (NotAssessableInputError): areas on a sheared grid are wrong.
 * - Reorients axis-aligned in-plane orientations to the canonical one (columns -> patient left,
 *   rows -> posterior) so every later stage can rely on "posterior = larger row index".
 * - Decodes slice by slice into one preallocated Int16Array; datasets are not kept (memory: 3 bytes/voxel).
 *
 * Inputs may supply `bytes` through a getter (e.g. read from disk on access): it is read twice, once
 * for the header pass and once for the pixel pass, and never held longer than one slice.
 */
import type { CtVolume, DicomInput, ExcludedInstance } from './types.ts';
import { PADDING_HU } from './types.ts';
import { DicomDecodeError, NotAssessableInputError } from './errors.ts';
import { decodeSliceHu, exactArrayBuffer, pixelFormatProblem, readSliceHeader, SOP_CLASS, type SliceHeader } from './decode.ts';

/** A slice whose normal is more than this far from the patient z axis is not axial (sagittal, coronal, localizer). */
const MAX_AXIAL_NORMAL_ANGLE_DEG = 45;
/** Stacks whose slice-to-slice step deviates more than this from the slice normal are sheared (gantry tilt). */
const MAX_SHEAR_ANGLE_DEG = 1;
/** Slices closer than this along the normal are duplicates of one another. */
const DUPLICATE_POSITION_MM = 0.01;

function cross(a: number[], b: number[]): [number, number, number] {
  return [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
}
function dot(a: number[], b: number[]): number {
  return a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
}
function norm(a: number[]): number {
  return Math.sqrt(dot(a, a));
}
function degrees(rad: number): number {
  return (rad * 180) / Math.PI;
}

/** How the stored grid maps onto the source DICOM pixel grid. */
export interface InPlaneMapping {
  /** Output rows run along the source columns. */
  transposed: boolean;
  /** Output rows run in the opposite direction of the (possibly transposed) source rows. */
  flipRows: boolean;
  flipColumns: boolean;
}

/**
 * Chooses flips/transpose so that output columns point to patient left (+x) and rows to posterior (+y).
 * Only axis-aligned orientations are changed; oblique in-plane rotations are kept as acquired.
 */
export function canonicalInPlaneMapping(iop: number[]): InPlaneMapping {
  const row = iop.slice(0, 3);
  const col = iop.slice(3, 6);
  const transposed = Math.abs(row[1]!) > Math.abs(row[0]!) && Math.abs(col[0]!) > Math.abs(col[1]!);
  // After a transpose the output column direction is the source column direction, and vice versa.
  const outColumnDir = transposed ? col : row;
  const outRowDir = transposed ? row : col;
  return { transposed, flipColumns: outColumnDir[0]! < 0, flipRows: outRowDir[1]! < 0 };
}

interface Candidate {
  header: SliceHeader;
  inputIndex: number;
  normal: [number, number, number];
}

function groupKey(h: SliceHeader): string {
  const iop = h.imageOrientationPatient!.map((v) => v.toFixed(3)).join('\\');
  const ps = h.pixelSpacingMm!.map((v) => v.toFixed(4)).join('\\');
  // Empty UIDs (seen in the wild) still group by geometry, which is what keeps a stack together.
  return [h.studyInstanceUID, h.seriesInstanceUID, h.frameOfReferenceUID ?? '', h.rows, h.columns, ps, iop].join('|');
}

function isCtInstance(h: SliceHeader): boolean {
  if (h.sopClassUID === SOP_CLASS.ctImage) return true;
  // Empty SOP class with CT modality is tolerated (broken exports); anything else is not ours.
  return h.sopClassUID === '' && h.modality === 'CT';
}

/** Reasons per-instance, before grouping. Null = candidate. */
function instanceProblem(h: SliceHeader): string | null {
  if (h.sopClassUID === SOP_CLASS.enhancedCtImage) return 'Enhanced CT (multi-frame) not supported';
  if (!isCtInstance(h)) return `not a CT image (SOP class ${h.sopClassUID || 'empty'}, modality ${h.modality || 'empty'})`;
  if (h.imageType.includes('LOCALIZER')) return 'localizer (scout) image';
  const fmt = pixelFormatProblem(h);
  if (fmt) return fmt;
  if (!h.imageOrientationPatient || !h.imagePositionPatient || !h.pixelSpacingMm) {
    return 'no geometry (ImageOrientationPatient/ImagePositionPatient/PixelSpacing missing)';
  }
  if (!(h.pixelSpacingMm[0] > 0 && h.pixelSpacingMm[1] > 0)) return 'invalid PixelSpacing';
  const iop = h.imageOrientationPatient;
  const n = cross(iop.slice(0, 3), iop.slice(3, 6));
  if (norm(n) < 0.5) return 'degenerate ImageOrientationPatient';
  const angle = degrees(Math.acos(Math.min(1, Math.abs(n[2]) / norm(n))));
  if (angle > MAX_AXIAL_NORMAL_ANGLE_DEG) return `not axial (slice normal ${angle.toFixed(0)} deg from the head-foot axis)`;
  return null;
}

function summarise(excluded: ExcludedInstance[]): string {
  const counts = new Map<string, number>();
  for (const e of excluded) {
    const reason = e.reason.replace(/^[^:]*: /, '');
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts.entries()].map(([r, c]) => `${c}x ${r}`).join('; ');
}

function readBytes(input: DicomInput, label: string): ArrayBuffer {
  const b = input.bytes as ArrayBuffer | Uint8Array | undefined;
  if (!b) throw new DicomDecodeError(`${label}: no bytes`);
  return exactArrayBuffer(b);
}

/**
 * Builds the head-first HU volume from any set of instances. Throws NotAssessableInputError when no
 * usable axial CT stack is left (the message lists why instances were excluded) or the stack is sheared.
 */
export async function buildCtVolume(inputs: DicomInput[]): Promise<CtVolume> {
  const excluded: ExcludedInstance[] = [];
  const candidates: Candidate[] = [];
  inputs.forEach((input, inputIndex) => {
    const label = input.label ?? `input #${inputIndex + 1}`;
    let header: SliceHeader;
    try {
      header = readSliceHeader(readBytes(input, label), label);
    } catch (e) {
      excluded.push({ label, reason: e instanceof DicomDecodeError ? e.message.replace(`${label}: `, '') : 'unreadable' });
      return;
    }
    const problem = instanceProblem(header);
    if (problem) {
      excluded.push({ label, reason: problem });
      return;
    }
    const iop = header.imageOrientationPatient!;
    const n = cross(iop.slice(0, 3), iop.slice(3, 6));
    const len = norm(n);
    candidates.push({ header, inputIndex, normal: [n[0] / len, n[1] / len, n[2] / len] });
  });

  if (candidates.length === 0) {
    throw new NotAssessableInputError(
      inputs.length === 0
        ? 'no DICOM instances given'
        : `no usable axial CT image among ${inputs.length} instance(s): ${summarise(excluded)}`,
    );
  }

  // Largest group wins; ties go to the group seen first so the choice does not depend on luck.
  const groups = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const k = groupKey(c.header);
    const g = groups.get(k);
    if (g) g.push(c);
    else groups.set(k, [c]);
  }
  let chosen: Candidate[] = [];
  for (const g of groups.values()) if (g.length > chosen.length) chosen = g;
  // Tie-break independent of input order: the group whose key (series UID, geometry), then smallest
  // SOP UID, sorts first (copies of a series may share SOP UIDs, e.g. a UID-repaired export).
  const ties = [...groups.entries()].filter(([, g]) => g.length === chosen.length);
  if (ties.length > 1) {
    const minUid = (g: Candidate[]) => g.map((c) => c.header.sopInstanceUID).sort()[0] ?? '';
    const order = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    chosen = ties.sort(([ka, a], [kb, b]) => order(ka, kb) || order(minUid(a), minUid(b)))[0]![1];
  }
  for (const g of groups.values()) {
    if (g === chosen) continue;
    for (const c of g) {
      excluded.push({
        label: c.header.label,
        reason: `other series or geometry (${g.length} instance(s)); the largest stack (${chosen.length}) was analysed`,
      });
    }
  }

  const first = chosen[0]!;
  const normal = first.normal;
  // Head first: the head is +z in DICOM patient space (LPS), so order by descending projection on +z-pointing normal.
  const headward = normal[2] >= 0 ? 1 : -1;
  const along = (c: Candidate) => headward * dot(c.header.imagePositionPatient!, normal);
  chosen.sort((a, b) => {
    const d = along(b) - along(a);
    if (d !== 0) return d;
    return a.header.sopInstanceUID < b.header.sopInstanceUID ? -1 : a.header.sopInstanceUID > b.header.sopInstanceUID ? 1 : 0;
  });

  // Same position twice (re-sent or duplicated instance): keep one, deterministically the first in sort order.
  const stack: Candidate[] = [];
  for (const c of chosen) {
    const prev = stack[stack.length - 1];
    if (prev && Math.abs(along(prev) - along(c)) < DUPLICATE_POSITION_MM) {
      excluded.push({ label: c.header.label, reason: 'duplicate slice position' });
      continue;
    }
    stack.push(c);
  }

  // Gantry tilt / shear: the step between slices must run along the normal.
  if (stack.length >= 2) {
    const a = stack[0]!.header.imagePositionPatient!;
    const b = stack[stack.length - 1]!.header.imagePositionPatient!;
    const step = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    const shear = degrees(Math.acos(Math.min(1, Math.abs(dot(step, normal)) / norm(step))));
    if (shear > MAX_SHEAR_ANGLE_DEG) {
      throw new NotAssessableInputError(
        `gantry tilt or sheared slice stack (${shear.toFixed(1)} deg between slice normal and slice stacking direction): ` +
          'not supported, send a reconstruction without tilt',
      );
    }
  }

  const h0 = first.header;
  const map = canonicalInPlaneMapping(h0.imageOrientationPatient!);
  const rows = map.transposed ? h0.columns : h0.rows;
  const columns = map.transposed ? h0.rows : h0.columns;
  const pixelSpacingMm: [number, number] = map.transposed
    ? [h0.pixelSpacingMm![1], h0.pixelSpacingMm![0]]
    : [h0.pixelSpacingMm![0], h0.pixelSpacingMm![1]];
  const srcRowDir = h0.imageOrientationPatient!.slice(0, 3);
  const srcColDir = h0.imageOrientationPatient!.slice(3, 6);
  let outColDir = map.transposed ? srcColDir : srcRowDir;
  let outRowDir = map.transposed ? srcRowDir : srcColDir;
  if (map.flipColumns) outColDir = outColDir.map((v) => -v);
  if (map.flipRows) outRowDir = outRowDir.map((v) => -v);

  const sliceSize = rows * columns;
  const slices = stack.length;
  const hu = new Int16Array(slices * sliceSize);
  // Per-slice padding scratch: the volume-wide mask is derived from hu on first use (see below).
  const scratchPadding = new Uint8Array(sliceSize);
  const imagePositionPatient: [number, number, number][] = [];
  const sopInstanceUIDs: string[] = [];
  const sliceZMm: number[] = [];
  let patientSizeM: number | null = null;

  // Source index of output pixel (r, c): precomputed once, used for every slice.
  const srcIndex = new Uint32Array(sliceSize);
  const identity = !map.transposed && !map.flipRows && !map.flipColumns;
  if (!identity) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        const rr = map.flipRows ? rows - 1 - r : r;
        const cc = map.flipColumns ? columns - 1 - c : c;
        // Output (rr, cc) in the transposed frame = source (cc, rr).
        srcIndex[r * columns + c] = map.transposed ? cc * h0.columns + rr : rr * h0.columns + cc;
      }
    }
  }

  for (let k = 0; k < slices; k++) {
    const c = stack[k]!;
    const h = c.header;
    const input = inputs[c.inputIndex]!;
    const base = k * sliceSize;
    let decoded;
    try {
      // Same grid as the source: decode straight into the volume (no per-slice temporaries).
      const into = identity ? { hu: hu.subarray(base, base + sliceSize), padding: scratchPadding } : undefined;
      decoded = await decodeSliceHu(readBytes(input, h.label), h, PADDING_HU, into);
    } catch (e) {
      // A slice that cannot be decoded would leave a hole: refuse rather than measure around it.
      throw new NotAssessableInputError(`slice ${k + 1}/${slices} could not be decoded: ${(e as Error).message}`);
    }
    if (!identity) {
      for (let i = 0; i < sliceSize; i++) {
        const s = srcIndex[i]!;
        hu[base + i] = decoded.hu[s]!;
      }
    }
    const ipp = h.imagePositionPatient!;
    // Position of output pixel (0,0) = position of the source pixel it was copied from.
    const r0 = map.flipRows ? rows - 1 : 0;
    const c0 = map.flipColumns ? columns - 1 : 0;
    const [srcR, srcC] = map.transposed ? [c0, r0] : [r0, c0];
    const origin: [number, number, number] = [0, 1, 2].map(
      (i) => ipp[i]! + srcR * h.pixelSpacingMm![0] * srcColDir[i]! + srcC * h.pixelSpacingMm![1] * srcRowDir[i]!,
    ) as [number, number, number];
    imagePositionPatient.push(origin);
    sliceZMm.push(origin[2]);
    sopInstanceUIDs.push(h.sopInstanceUID);
    patientSizeM ??= h.patientSizeM;
  }

  const gaps: number[] = [];
  for (let k = 1; k < slices; k++) gaps.push(Math.abs(along(stack[k - 1]!) - along(stack[k]!)));
  gaps.sort((a, b) => a - b);
  const sliceSpacingMm = gaps.length ? gaps[Math.floor(gaps.length / 2)]! : 0;

  const volume = {
    rows,
    columns,
    slices,
    hu,
    pixelSpacingMm,
    sliceZMm,
    sliceSpacingMm,
    sopInstanceUIDs,
    studyInstanceUID: h0.studyInstanceUID,
    seriesInstanceUID: h0.seriesInstanceUID,
    frameOfReferenceUID: h0.frameOfReferenceUID,
    sopClassUID: h0.sopClassUID || SOP_CLASS.ctImage,
    imageOrientationPatient: [...outColDir, ...outRowDir].map((v) => v + 0), // + 0 turns -0 into 0
    imagePositionPatient,
    patientSizeM,
    excluded,
    ...(identity
      ? {}
      : { sourceGrid: { rows: h0.rows, columns: h0.columns, imageOrientationPatient: h0.imageOrientationPatient!.slice(), ...map } }),
  };
  return withLazyPaddingMask(volume);
}

/**
 * Padding voxels hold exactly PADDING_HU and no real voxel does (decoded HU below -1500 are padding),
 * so the volume-wide mask is a function of `hu`. It is built on first access only: the analysis itself
 * works per slice (slicePaddingMask), which keeps a 1000-slice 512x512 series 262 MB smaller while the
 * level finder holds its own work grid.
 */
function withLazyPaddingMask(volume: Omit<CtVolume, 'paddingMask'>): CtVolume {
  let mask: Uint8Array | null = null;
  return Object.defineProperty(volume, 'paddingMask', {
    enumerable: true,
    configurable: false,
    get(): Uint8Array {
      if (!mask) {
        const hu = volume.hu;
        mask = new Uint8Array(hu.length);
        for (let i = 0; i < hu.length; i++) if (hu[i] === PADDING_HU) mask[i] = 1;
      }
      return mask;
    },
  }) as CtVolume;
}

/** Padding mask (1 = padding / outside the scan circle) of one slice, without building the volume-wide mask. */
export function slicePaddingMask(volume: Pick<CtVolume, 'hu' | 'rows' | 'columns'>, sliceIndex: number): Uint8Array {
  const n = volume.rows * volume.columns;
  const hu = volume.hu.subarray(sliceIndex * n, (sliceIndex + 1) * n);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (hu[i] === PADDING_HU) out[i] = 1;
  return out;
}



/**
 * Maps a per-slice mask (or any per-pixel array) from the stored canonical grid back onto the source
 * DICOM pixel grid, for writing SEG objects or overlays against the original images.
 */
export function toSourceGrid<T extends Uint8Array | Int16Array>(stored: T, volume: Pick<CtVolume, 'rows' | 'columns' | 'sourceGrid'>): T {
  const src = volume.sourceGrid;
  if (!src) return stored;
  const { rows, columns } = volume;
  const out = new (stored.constructor as { new (n: number): T })(src.rows * src.columns);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const rr = src.flipRows ? rows - 1 - r : r;
      const cc = src.flipColumns ? columns - 1 - c : c;
      const s = src.transposed ? cc * src.columns + rr : rr * src.columns + cc;
      out[s] = stored[r * columns + c]!;
    }
  }
  return out;
}
