import dcmjs from 'dcmjs';
import { bufferSource, type ByteSource } from './byte-source.ts';
import { checkDatasetStructure, LONG_LENGTH_VRS } from './dicom-structure.ts';

/**
 * Validation shared by the C-STORE SCP and the STOW-RS receiver: one Part 10 file in, either the
 * identifying attributes of an acceptable CT instance or a typed refusal with the status to answer.
 * Pure (no I/O): the caller reads the bytes and decides what to do with the verdict.
 */

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const ENHANCED_CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2.1';
export const ACCEPTED_SOP_CLASSES: ReadonlySet<string> = new Set([CT_IMAGE_STORAGE, ENHANCED_CT_IMAGE_STORAGE]);

/**
 * Transfer syntaxes we store as received: the uncompressed ones plus every compression the analysis
 * decoder (@cornerstonejs/dicom-codec) can read. Storing "as received" means the sender never has to
 * transcode (storescu cannot re-encode JPEG-LS to Explicit LE, platform notes §3).
 */
export const STORABLE_TRANSFER_SYNTAXES: readonly string[] = [
  '1.2.840.10008.1.2', // Implicit VR Little Endian
  '1.2.840.10008.1.2.1', // Explicit VR Little Endian
  '1.2.840.10008.1.2.1.99', // Deflated Explicit VR Little Endian
  '1.2.840.10008.1.2.2', // Explicit VR Big Endian (retired, still sent by old scanners)
  '1.2.840.10008.1.2.5', // RLE Lossless
  '1.2.840.10008.1.2.4.50', // JPEG Baseline
  '1.2.840.10008.1.2.4.51', // JPEG Extended
  '1.2.840.10008.1.2.4.57', // JPEG Lossless
  '1.2.840.10008.1.2.4.70', // JPEG Lossless SV1
  '1.2.840.10008.1.2.4.80', // JPEG-LS Lossless
  '1.2.840.10008.1.2.4.81', // JPEG-LS Near-Lossless
  '1.2.840.10008.1.2.4.90', // JPEG 2000 Lossless
  '1.2.840.10008.1.2.4.91', // JPEG 2000
  '1.2.840.10008.1.2.4.201', // HTJ2K Lossless
  '1.2.840.10008.1.2.4.202', // HTJ2K Lossless RPCL
  '1.2.840.10008.1.2.4.203', // HTJ2K
];
const STORABLE_TS_SET = new Set(STORABLE_TRANSFER_SYNTAXES);

/**
 * C-STORE failure statuses (PS3.4 Table B.2-1), reused as STOW-RS FailureReason (0008,1197) values
 * (PS3.18 Table 10.5.3-1 uses the same codes):
 *  - 0x0122 Refused: SOP Class not supported. For a well-formed MR/SR/... instance: the data is fine,
 *    this service just does not handle that class. Chosen over 0xA900 because the instance does match
 *    its own SOP class; the problem is ours, and senders log 0x0122 as "not supported", not "bad data".
 *  - 0xA900 Error: Data Set does not match SOP Class. Required identifying attributes empty/invalid, or
 *    contradicting the command/meta (e.g. empty Study/Series/SOP Instance UID, Modality MR in a CT object).
 *  - 0xC000 / 0xC001 Error: Cannot understand. Not DICOM at all / structurally cut off.
 *  - 0xC122 Referenced Transfer Syntax not supported (STOW-RS code; also inside the C000 range for C-STORE).
 *  - 0xA700 Refused: Out of resources (disk write failed): transient, the sender should retry.
 */
export const STATUS = {
  success: 0x0000,
  sopClassNotSupported: 0x0122,
  outOfResources: 0xa700,
  datasetDoesNotMatchSopClass: 0xa900,
  cannotUnderstand: 0xc000,
  cannotUnderstandTruncated: 0xc001,
  transferSyntaxNotSupported: 0xc122,
} as const;

export type RefusalReason =
  | 'not-dicom'
  | 'truncated'
  | 'transfer-syntax-not-supported'
  | 'sop-class-not-supported'
  | 'missing-attribute'
  | 'invalid-uid'
  | 'inconsistent'
  /** Not the data's fault: the spool or job store failed (transient, the sender should retry). */
  | 'out-of-resources';

export interface ValidInstance {
  ok: true;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  modality: string;
  transferSyntaxUID: string;
}

export interface InstanceRefusal {
  ok: false;
  reason: RefusalReason;
  /** DIMSE status / STOW FailureReason to answer with. */
  status: number;
  /** Names the problem; no patient data; at most 64 characters (fits DIMSE Error Comment, LO). */
  detail: string;
  /** Whatever identification could be read (for FailedSOPSequence); '' when unknown. */
  sopClassUID: string;
  sopInstanceUID: string;
}

export type InstanceVerdict = ValidInstance | InstanceRefusal;

/** What the transport already claims about the instance (C-STORE command fields); checked against the data. */
export interface ExpectedIdentity {
  sopClassUID?: string;
  sopInstanceUID?: string;
  /** STOW-RS to /studies/{uid}: every instance must belong to that study (PS3.18 10.5). */
  studyInstanceUID?: string;
}

const STATUS_BY_REASON: Record<RefusalReason, number> = {
  'not-dicom': STATUS.cannotUnderstand,
  truncated: STATUS.cannotUnderstandTruncated,
  'transfer-syntax-not-supported': STATUS.transferSyntaxNotSupported,
  'sop-class-not-supported': STATUS.sopClassNotSupported,
  'missing-attribute': STATUS.datasetDoesNotMatchSopClass,
  'invalid-uid': STATUS.datasetDoesNotMatchSopClass,
  inconsistent: STATUS.datasetDoesNotMatchSopClass,
  'out-of-resources': STATUS.outOfResources,
};

function refuse(reason: RefusalReason, detail: string, ids: { sopClassUID?: string; sopInstanceUID?: string } = {}): InstanceRefusal {
  return {
    ok: false,
    reason,
    status: STATUS_BY_REASON[reason],
    detail: detail.length > 64 ? `${detail.slice(0, 61)}...` : detail,
    sopClassUID: ids.sopClassUID ?? '',
    sopInstanceUID: ids.sopInstanceUID ?? '',
  };
}

/**
 * UID syntax (PS3.5 9.1): digits and dots, no empty component, at most 64 characters. Components with a
 * leading zero are tolerated: real scanners emit them and they are harmless as file names.
 * The digits-and-dots rule is also what makes UIDs safe as spool path components.
 */
export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && /^[0-9]+(\.[0-9]+)*$/.test(uid);
}

function firstString(value: unknown): string {
  const v = Array.isArray(value) ? value[0] : value;
  // UI values are padded to even length with NUL, other strings with a space.
  return typeof v === 'string' ? v.replace(/[\0 ]+$/, '').trim() : '';
}

function elementString(dict: Record<string, { Value?: unknown[] } | undefined>, tag: string): string {
  return firstString(dict[tag]?.Value);
}

/** dcmjs parse of bytes[0, end) (a copy: dcmjs reads from offset 0 of an ArrayBuffer, platform notes §3). */
function readPart10(
  source: ByteSource,
  end: number,
  tolerant: boolean,
): { meta: Record<string, { Value?: unknown[] }>; dict: Record<string, { Value?: unknown[] }> } {
  const bytes = source.read(0, end);
  const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjs.data.DicomMessage.readFile(arrayBuffer, {
    untilTag: '7FE00010',
    includeUntilTagValue: false,
    // Tolerant parsing keeps e.g. ISO 2022 multi-charset headers readable (structure is checked
    // separately); on a structurally broken file it would only log stack traces, so it is off there.
    ignoreErrors: tolerant,
  });
}

/**
 * The three File Meta elements we need, read directly: group 0002 is always Explicit VR Little Endian.
 * Hand-written because dcmjs cannot parse the meta group on its own for a Deflated file (it tries to
 * inflate the data set that follows). Returns a problem description instead when malformed.
 */
function readFileMeta(
  bytes: Uint8Array,
  end: number,
): { transferSyntaxUID: string; sopClassUID: string; sopInstanceUID: string } | string {
  if (bytes.byteLength < end) return 'file meta information cut off';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: Record<number, string> = {};
  let pos = PREAMBLE_AND_MAGIC;
  while (pos + 8 <= end) {
    const group = view.getUint16(pos, true);
    const element = view.getUint16(pos + 2, true);
    if (group !== 0x0002) return `unexpected element (${group.toString(16)},${element.toString(16)}) in file meta`;
    const vr = String.fromCharCode(bytes[pos + 4] ?? 0, bytes[pos + 5] ?? 0);
    const long = LONG_LENGTH_VRS.has(vr);
    const length = long ? (pos + 12 <= end ? view.getUint32(pos + 8, true) : -1) : view.getUint16(pos + 6, true);
    const valueAt = pos + (long ? 12 : 8);
    if (length < 0 || valueAt + length > end) return 'file meta information is malformed';
    if (element === 0x0002 || element === 0x0003 || element === 0x0010) {
      found[element] = new TextDecoder('latin1').decode(bytes.subarray(valueAt, valueAt + length)).replace(/[\0 ]+$/, '').trim();
    }
    pos = valueAt + length;
  }
  return { transferSyntaxUID: found[0x0010] ?? '', sopClassUID: found[0x0002] ?? '', sopInstanceUID: found[0x0003] ?? '' };
}

const PREAMBLE_AND_MAGIC = 132;
const GROUP_LENGTH_ELEMENT_BYTES = 12;

/**
 * Validates one DICOM Part 10 file (preamble + meta + data set), given whole or as a ByteSource
 * (then only the header and element headers are read: a 70 MB instance costs a few kB of memory).
 */
export function validateInstance(input: Uint8Array | ByteSource, expected: ExpectedIdentity = {}): InstanceVerdict {
  const source = input instanceof Uint8Array ? bufferSource(input) : input;
  const head = source.read(0, PREAMBLE_AND_MAGIC + GROUP_LENGTH_ELEMENT_BYTES);
  if (
    head.byteLength < PREAMBLE_AND_MAGIC + GROUP_LENGTH_ELEMENT_BYTES ||
    head[128] !== 0x44 || head[129] !== 0x49 || head[130] !== 0x43 || head[131] !== 0x4d
  ) {
    return refuse('not-dicom', 'not a DICOM Part 10 file (no DICM prefix)');
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (view.getUint16(132, true) !== 0x0002 || view.getUint16(134, true) !== 0x0000) {
    return refuse('not-dicom', 'file meta group length (0002,0000) missing');
  }
  const datasetOffset = PREAMBLE_AND_MAGIC + GROUP_LENGTH_ELEMENT_BYTES + view.getUint32(140, true);
  if (datasetOffset > source.size) return refuse('truncated', 'file meta information cut off');

  const meta = readFileMeta(source.read(0, datasetOffset), datasetOffset);
  if (typeof meta === 'string') return refuse('not-dicom', meta);
  const transferSyntaxUID = meta.transferSyntaxUID;
  const metaIds = { sopClassUID: meta.sopClassUID, sopInstanceUID: meta.sopInstanceUID };
  if (!transferSyntaxUID) return refuse('not-dicom', 'TransferSyntaxUID (0002,0010) missing', metaIds);
  if (!STORABLE_TS_SET.has(transferSyntaxUID)) {
    return refuse('transfer-syntax-not-supported', `transfer syntax ${transferSyntaxUID} not supported`, metaIds);
  }
  const structure = checkDatasetStructure(source, datasetOffset, transferSyntaxUID);

  let dict: Record<string, { Value?: unknown[] }>;
  try {
    // Only the header goes through dcmjs (a few kB instead of the whole pixel data: less CPU and GC).
    dict = readPart10(source, structure.pixelDataOffset ?? source.size, structure.problem === null).dict;
  } catch (err) {
    if (structure.problem) return refuse('truncated', structure.problem, metaIds);
    return refuse('not-dicom', `unreadable DICOM header: ${(err as Error).message}`, metaIds);
  }
  const ids = {
    sopClassUID: elementString(dict, '00080016') || metaIds.sopClassUID,
    sopInstanceUID: elementString(dict, '00080018') || metaIds.sopInstanceUID,
  };
  if (structure.problem) return refuse('truncated', structure.problem, ids);

  const sopClassUID = elementString(dict, '00080016');
  const sopInstanceUID = elementString(dict, '00080018');
  const studyInstanceUID = elementString(dict, '0020000D');
  const seriesInstanceUID = elementString(dict, '0020000E');
  const modality = elementString(dict, '00080060');

  const required: Array<[string, string]> = [
    ['SOPClassUID (0008,0016)', sopClassUID],
    ['SOPInstanceUID (0008,0018)', sopInstanceUID],
    ['StudyInstanceUID (0020,000D)', studyInstanceUID],
    ['SeriesInstanceUID (0020,000E)', seriesInstanceUID],
  ];
  for (const [name, value] of required) {
    if (!value) return refuse('missing-attribute', `${name} is empty`, ids);
    if (!isValidUid(value)) return refuse('invalid-uid', `${name} is not a valid UID`, ids);
  }
  if (!ACCEPTED_SOP_CLASSES.has(sopClassUID)) {
    return refuse('sop-class-not-supported', `SOP class ${sopClassUID} not supported: CT only`, ids);
  }
  if (modality !== 'CT') {
    return refuse('inconsistent', `Modality is '${modality || 'empty'}' in a CT image object`, ids);
  }
  // Pixel Data is Type 1 in both CT IODs; without it the job would fail later for a less clear reason.
  if (structure.pixelDataOffset === null && dict['7FE00010'] === undefined) {
    return refuse('missing-attribute', 'Pixel Data (7FE0,0010) is missing', ids);
  }
  const metaSopInstance = meta.sopInstanceUID;
  if (metaSopInstance && metaSopInstance !== sopInstanceUID) {
    return refuse('inconsistent', 'MediaStorageSOPInstanceUID differs from SOPInstanceUID', ids);
  }
  if (expected.sopInstanceUID !== undefined && expected.sopInstanceUID !== sopInstanceUID) {
    return refuse('inconsistent', 'SOPInstanceUID differs from the C-STORE command', ids);
  }
  if (expected.sopClassUID !== undefined && expected.sopClassUID !== sopClassUID) {
    return refuse('inconsistent', 'SOPClassUID differs from the C-STORE command', ids);
  }
  if (expected.studyInstanceUID !== undefined && expected.studyInstanceUID !== studyInstanceUID) {
    return refuse('inconsistent', 'StudyInstanceUID differs from the study in the URL', ids);
  }
  return { ok: true, studyInstanceUID, seriesInstanceUID, sopInstanceUID, sopClassUID, modality, transferSyntaxUID };
}
