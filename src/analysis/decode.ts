/**
 * One DICOM instance -> header facts (geometry, pixel format, rescale, padding) and, on demand,
 * its pixels in Hounsfield units. Pure: works on bytes handed in, no file or network access.
 *
 * Two entry points so the volume builder can keep memory flat: `readSliceHeader` parses
 * everything except Pixel Data (cheap, kept for all instances), `decodeSliceHu` parses the
 * instance again and decodes one frame (the dataset is dropped right after).
 */
import dcmjs from 'dcmjs';
import { DicomDecodeError } from './errors.ts';
import { decodeCompressedFrame, hasCodec } from './codecs.ts';

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;

/** dcmjs logs every unknown/private tag at info level; analysis output must stay quiet. */
try {
  dcmjs.log?.setLevel?.('error');
} catch {
  /* older dcmjs without loglevel: nothing to silence */
}

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
} as const;

/** Native (uncompressed) syntaxes: dcmjs hands us the raw little-endian pixel bytes (deflate already inflated). */
const NATIVE_SYNTAXES = new Set<string>([TS.implicitLE, TS.explicitLE, TS.deflatedLE]);

/** Transfer syntaxes whose frames the codec package decodes (RLE, JPEG lossless/baseline/extended, JPEG-LS, JPEG 2000, HTJ2K). */
export function isSupportedTransferSyntax(ts: string): boolean {
  if (NATIVE_SYNTAXES.has(ts)) return true;
  // Big endian is retired and untestable here: refuse rather than risk byte-swapped HU.
  if (ts === TS.explicitBE) return false;
  return hasCodec(ts);
}

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const ENHANCED_CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2.1';
export const SOP_CLASS = { ctImage: CT_IMAGE_STORAGE, enhancedCtImage: ENHANCED_CT_IMAGE_STORAGE } as const;

/** Everything the volume builder needs from one instance, without its pixels. No patient identity here. */
export interface SliceHeader {
  label: string;
  transferSyntaxUID: string;
  sopClassUID: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  frameOfReferenceUID: string | null;
  modality: string;
  imageType: string[];
  instanceNumber: number | null;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  numberOfFrames: number;
  pixelSpacingMm: [number, number] | null;
  imageOrientationPatient: number[] | null;
  imagePositionPatient: [number, number, number] | null;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Stored-value padding range (inclusive), from PixelPaddingValue [+ PixelPaddingRangeLimit]. */
  paddingRange: [number, number] | null;
  /** PatientSize (0010,1020) in metres when plausible (1.0-2.3 m), else null. */
  patientSizeM: number | null;
}

/** Heights outside this range are typing errors (cm entered as m, 0, 999...): never used. */
const PLAUSIBLE_HEIGHT_M: [number, number] = [1.0, 2.3];

/** PatientSize (0010,1020) is DS in metres; returns it only when it is a plausible adult/adolescent height. */
export function readPatientSizeM(value: unknown): number | null {
  const v = typeof value === 'string' ? Number.parseFloat(value) : typeof value === 'number' ? value : NaN;
  if (!Number.isFinite(v)) return null;
  return v >= PLAUSIBLE_HEIGHT_M[0] && v <= PLAUSIBLE_HEIGHT_M[1] ? v : null;
}

/** Node's Buffer pool trap (platform notes §3): hand dcmjs an ArrayBuffer that is exactly this file. */
export function exactArrayBuffer(bytes: ArrayBuffer | Uint8Array): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function parse(bytes: ArrayBuffer, label: string, withPixels: boolean): { meta: any; dict: any } {
  try {
    const options = withPixels
      ? { ignoreErrors: true, untilTag: null, includeUntilTagValue: false, noCopy: false, forceStoreRaw: false }
      : { ignoreErrors: true, untilTag: '7FE00010', includeUntilTagValue: false, noCopy: false, forceStoreRaw: false };
    const d = DicomMessage.readFile(exactArrayBuffer(bytes), options);
    return { meta: d.meta, dict: d.dict };
  } catch (e) {
    throw new DicomDecodeError(`${label}: not a readable DICOM Part 10 file (${(e as Error).message})`);
  }
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.length ? str(v[0]) : '';
  return String(v).trim();
}

function num(v: unknown): number | null {
  const x = Array.isArray(v) ? v[0] : v;
  if (x === undefined || x === null || x === '') return null;
  const n = typeof x === 'number' ? x : Number.parseFloat(String(x));
  return Number.isFinite(n) ? n : null;
}

function numArray(v: unknown, length: number): number[] | null {
  if (!Array.isArray(v) || v.length < length) return null;
  const out = v.slice(0, length).map((x) => (typeof x === 'number' ? x : Number.parseFloat(String(x))));
  return out.every(Number.isFinite) ? out : null;
}

/** Parses one instance without its pixel data. Throws DicomDecodeError naming the problem. */
export function readSliceHeader(bytes: ArrayBuffer, label = 'instance'): SliceHeader {
  const { meta, dict } = parse(bytes, label, false);
  const m = DicomMetaDictionary.naturalizeDataset(meta);
  const ds = DicomMetaDictionary.naturalizeDataset(dict);
  const transferSyntaxUID = str(m.TransferSyntaxUID);
  // Some archives leave the dataset UIDs empty but keep them in the meta header: use that as fallback.
  const sopClassUID = str(ds.SOPClassUID) || str(m.MediaStorageSOPClassUID);
  const sopInstanceUID = str(ds.SOPInstanceUID) || str(m.MediaStorageSOPInstanceUID);
  const ps = numArray(ds.PixelSpacing, 2);
  const iop = numArray(ds.ImageOrientationPatient, 6);
  const ipp = numArray(ds.ImagePositionPatient, 3);
  const pixelRepresentation = num(ds.PixelRepresentation) ?? 0;
  const bitsAllocated = num(ds.BitsAllocated) ?? 0;
  let paddingRange: [number, number] | null = null;
  const ppv = num(ds.PixelPaddingValue);
  if (ppv !== null) {
    // US/SS ambiguity: implicit-VR files may give a signed padding value as unsigned (63536 for -2000).
    const asStored = (x: number) => (pixelRepresentation === 1 && bitsAllocated === 16 && x > 32767 ? x - 65536 : x);
    const a = asStored(ppv);
    const limit = num(ds.PixelPaddingRangeLimit);
    const b = limit === null ? a : asStored(limit);
    paddingRange = [Math.min(a, b), Math.max(a, b)];
  }
  return {
    label,
    transferSyntaxUID,
    sopClassUID,
    sopInstanceUID,
    studyInstanceUID: str(ds.StudyInstanceUID),
    seriesInstanceUID: str(ds.SeriesInstanceUID),
    frameOfReferenceUID: str(ds.FrameOfReferenceUID) || null,
    modality: str(ds.Modality).toUpperCase(),
    imageType: (Array.isArray(ds.ImageType) ? ds.ImageType : ds.ImageType ? [ds.ImageType] : []).map((x: unknown) =>
      String(x).trim().toUpperCase(),
    ),
    instanceNumber: num(ds.InstanceNumber),
    rows: num(ds.Rows) ?? 0,
    columns: num(ds.Columns) ?? 0,
    samplesPerPixel: num(ds.SamplesPerPixel) ?? 1,
    photometricInterpretation: str(ds.PhotometricInterpretation).toUpperCase(),
    bitsAllocated,
    bitsStored: num(ds.BitsStored) ?? bitsAllocated,
    pixelRepresentation,
    numberOfFrames: num(ds.NumberOfFrames) ?? 1,
    pixelSpacingMm: ps ? [ps[0]!, ps[1]!] : null,
    imageOrientationPatient: iop,
    imagePositionPatient: ipp ? [ipp[0]!, ipp[1]!, ipp[2]!] : null,
    rescaleSlope: num(ds.RescaleSlope) ?? 1,
    rescaleIntercept: num(ds.RescaleIntercept) ?? 0,
    paddingRange,
    patientSizeM: readPatientSizeM(Array.isArray(ds.PatientSize) ? ds.PatientSize[0] : ds.PatientSize),
  };
}

/**
 * Why a header cannot be decoded as a single-frame greyscale CT image, or null when it can.
 * (Series membership, localizers and orientation are the volume builder's business.)
 */
export function pixelFormatProblem(h: SliceHeader): string | null {
  if (!isSupportedTransferSyntax(h.transferSyntaxUID)) return `unsupported transfer syntax ${h.transferSyntaxUID || '(none)'}`;
  if (h.rows <= 0 || h.columns <= 0) return 'no Rows/Columns';
  if (h.samplesPerPixel !== 1 || !h.photometricInterpretation.startsWith('MONOCHROME')) {
    return `not greyscale (${h.photometricInterpretation || 'no PhotometricInterpretation'}, ${h.samplesPerPixel} samples)`;
  }
  if (h.bitsAllocated !== 16 && h.bitsAllocated !== 8) return `unsupported BitsAllocated ${h.bitsAllocated}`;
  if (h.bitsStored < 1 || h.bitsStored > h.bitsAllocated) return `inconsistent BitsStored ${h.bitsStored}`;
  if (h.numberOfFrames !== 1) return `multi-frame image (${h.numberOfFrames} frames) not supported`;
  if (!(h.rescaleSlope > 0)) return `invalid RescaleSlope ${h.rescaleSlope}`;
  return null;
}

/** Codecs hand back either a typed array of samples or the raw little-endian bytes: normalise to samples. */
function asSamples(decoded: ArrayLike<number> & { BYTES_PER_ELEMENT?: number; byteLength?: number }, n: number, h: SliceHeader): ArrayLike<number> {
  const signed = h.pixelRepresentation === 1;
  if (h.bitsAllocated === 16 && decoded.BYTES_PER_ELEMENT === 1 && decoded.length >= 2 * n) {
    const bytes = decoded as Uint8Array;
    const aligned = bytes.slice(0, 2 * n).buffer;
    return signed ? new Int16Array(aligned) : new Uint16Array(aligned);
  }
  return decoded;
}

/** The pixel bytes of frame 0: one buffer for native syntaxes, fragments joined for encapsulated ones. */
function frameBytes(dict: any, label: string): Uint8Array {
  const el = dict['7FE00010'];
  const value: unknown = el?.Value;
  const parts: ArrayBuffer[] = Array.isArray(value) ? (value as ArrayBuffer[]) : value instanceof ArrayBuffer ? [value] : [];
  if (parts.length === 0) throw new DicomDecodeError(`${label}: no Pixel Data`);
  if (parts.length === 1) return new Uint8Array(parts[0]!);
  // Single-frame images only reach here, so several items are fragments of the same frame.
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const joined = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    joined.set(new Uint8Array(p), o);
    o += p.byteLength;
  }
  return joined;
}

/** The frame's samples as the codec (or the native bytes) give them; BitsStored is applied by the caller. */
async function decodeSamples(bytes: ArrayBuffer, h: SliceHeader): Promise<ArrayLike<number>> {
  const { dict } = parse(bytes, h.label, true);
  const frame = frameBytes(dict, h.label);
  const n = h.rows * h.columns;
  const signed = h.pixelRepresentation === 1;
  let samples: ArrayLike<number>;
  if (NATIVE_SYNTAXES.has(h.transferSyntaxUID)) {
    const need = n * (h.bitsAllocated / 8);
    if (frame.byteLength < need) throw new DicomDecodeError(`${h.label}: Pixel Data has ${frame.byteLength} bytes, expected ${need}`);
    // Copy to an aligned buffer: the frame may start at an odd offset inside the file.
    const aligned = frame.slice(0, need).buffer;
    if (h.bitsAllocated === 16) samples = signed ? new Int16Array(aligned) : new Uint16Array(aligned);
    else samples = signed ? new Int8Array(aligned) : new Uint8Array(aligned);
  } else {
    let decoded: ArrayLike<number> & { BYTES_PER_ELEMENT?: number };
    try {
      decoded = await decodeCompressedFrame(frame, { rows: h.rows, columns: h.columns, bitsAllocated: h.bitsAllocated, signed }, h.transferSyntaxUID);
    } catch (e) {
      throw new DicomDecodeError(`${h.label}: cannot decode ${h.transferSyntaxUID} pixel data (${String((e as Error)?.message ?? e)})`);
    }
    samples = asSamples(decoded, n, h);
  }
  if (!samples || samples.length < n) throw new DicomDecodeError(`${h.label}: decoded frame has ${samples?.length ?? 0} samples, expected ${n}`);
  return samples;
}

/** Air is about -1000 HU; anything far below is a scanner's "no data" fill (outside the reconstruction circle). */
export const OUTSIDE_CIRCLE_BELOW_HU = -1500;

export interface DecodedSliceHu {
  rows: number;
  columns: number;
  /** HU, padding voxels set to `paddingHu`. */
  hu: Int16Array;
  /** 1 = padding / outside the scan circle. */
  padding: Uint8Array;
}

/**
 * Decodes one instance's pixels to HU: RescaleSlope/Intercept applied, PixelPaddingValue (and range)
 * and the outside-circle fill (< -1500 HU) marked as padding and set to `paddingHu`.
 */
export async function decodeSliceHu(
  bytes: ArrayBuffer,
  h: SliceHeader,
  paddingHu: number,
  /** Write into these (e.g. the volume's slice) instead of allocating: keeps memory flat for big series. */
  into?: { hu: Int16Array; padding: Uint8Array },
): Promise<DecodedSliceHu> {
  const problem = pixelFormatProblem(h);
  if (problem) throw new DicomDecodeError(`${h.label}: ${problem}`);
  const samples = await decodeSamples(bytes, h);
  const n = h.rows * h.columns;
  if (into && (into.hu.length !== n || into.padding.length !== n)) throw new RangeError(`${h.label}: output arrays do not match ${h.rows}x${h.columns}`);
  const hu = into?.hu ?? new Int16Array(n);
  const padding = into?.padding ?? new Uint8Array(n);
  const { rescaleSlope: slope, rescaleIntercept: intercept, paddingRange } = h;
  const padLo = paddingRange ? paddingRange[0] : 1;
  const padHi = paddingRange ? paddingRange[1] : 0;
  const signed = h.pixelRepresentation === 1;
  const bits = h.bitsStored;
  const mask = bits >= 32 ? -1 : (1 << bits) - 1;
  const signBit = 1 << (bits - 1);
  const needsMask = bits < h.bitsAllocated;
  for (let i = 0; i < n; i++) {
    let s = samples[i]!;
    if (needsMask) {
      // Bits above BitsStored may hold overlays or garbage: keep BitsStored bits, sign-extend if signed.
      s &= mask;
      if (signed && s & signBit) s -= 1 << bits;
    } else if (signed && h.bitsAllocated === 16 && s > 32767) {
      s -= 65536; // codecs may return unsigned containers for signed data
    }
    const v = Math.round(s * slope + intercept);
    if ((s >= padLo && s <= padHi) || v < OUTSIDE_CIRCLE_BELOW_HU) {
      padding[i] = 1;
      hu[i] = paddingHu;
    } else {
      padding[i] = 0;
      hu[i] = v > 32767 ? 32767 : v;
    }
  }
  return { rows: h.rows, columns: h.columns, hu, padding };
}
