/**
 * Patient/study attributes of a source CT instance, for copying into derived objects.
 * Reads only the header (stops before Pixel Data). Callers must pass an ArrayBuffer holding
 * exactly the file: Node's pooled Buffers share one ArrayBuffer, so slice it first
 * (`b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)`).
 */
import dcmjs from 'dcmjs';
import type { SourceStudyContext } from './types.ts';
import { isValidUid } from './uids.ts';

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;

export class SourceContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceContextError';
  }
}

/** dcmjs naturalizes PN as [{ Alphabetic, Ideographic?, Phonetic? }] (or a plain string in older data). */
function personName(value: unknown): string {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined || first === null) return '';
  if (typeof first === 'string') return first;
  if (typeof first === 'object') {
    const pn = first as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
    const groups = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''];
    while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop();
    return groups.join('=');
  }
  return String(first);
}

function str(value: unknown): string {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === null ? '' : String(first);
}

function requiredUid(ds: Record<string, unknown>, keyword: string): string {
  const uid = str(ds[keyword]).replace(/\0/g, '').trim();
  if (!isValidUid(uid)) throw new SourceContextError(`source instance has no valid ${keyword}`);
  return uid;
}

/** The naturalized data set up to (not including) Pixel Data; `what` names the input in the error. */
function readHeader(p10: ArrayBuffer, what: string): Record<string, unknown> {
  try {
    const dict = DicomMessage.readFile(p10, { untilTag: '7FE00010', includeUntilTagValue: false });
    return DicomMetaDictionary.naturalizeDataset(dict.dict) as Record<string, unknown>;
  } catch (err) {
    throw new SourceContextError(`${what} is not readable DICOM Part 10: ${(err as Error).message}`);
  }
}

export function sourceContextFromDicom(p10: ArrayBuffer): SourceStudyContext {
  const ds = readHeader(p10, 'source instance');
  const frameOfReference = str(ds['FrameOfReferenceUID']).trim();
  return {
    patientName: personName(ds['PatientName']),
    patientId: str(ds['PatientID']),
    patientBirthDate: str(ds['PatientBirthDate']),
    patientSex: str(ds['PatientSex']),
    studyInstanceUID: requiredUid(ds, 'StudyInstanceUID'),
    studyDate: str(ds['StudyDate']),
    studyTime: str(ds['StudyTime']),
    studyId: str(ds['StudyID']),
    accessionNumber: str(ds['AccessionNumber']),
    referringPhysicianName: personName(ds['ReferringPhysicianName']),
    studyDescription: str(ds['StudyDescription']),
    seriesInstanceUID: requiredUid(ds, 'SeriesInstanceUID'),
    sopClassUID: requiredUid(ds, 'SOPClassUID'),
    frameOfReferenceUID: isValidUid(frameOfReference) ? frameOfReference : null,
  };
}

/** Geometry and identity of one source image, for objects drawn on its pixel grid (SEG). */
export interface SourceImageGeometry {
  sopClassUID: string;
  sopInstanceUID: string;
  seriesInstanceUID: string;
  frameOfReferenceUID: string;
  rows: number;
  columns: number;
  /** [row spacing, column spacing] mm */
  pixelSpacing: [number, number];
  imageOrientationPatient: number[];
  imagePositionPatient: [number, number, number];
  sliceThicknessMm: number | null;
}

function numbers(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return list.map((v) => Number(v));
}

export function imageGeometryFromDicom(p10: ArrayBuffer): SourceImageGeometry {
  const ds = readHeader(p10, 'source image');
  const spacing = numbers(ds['PixelSpacing']);
  const iop = numbers(ds['ImageOrientationPatient']);
  const ipp = numbers(ds['ImagePositionPatient']);
  const rows = Number(str(ds['Rows']));
  const columns = Number(str(ds['Columns']));
  if (spacing.length !== 2 || !spacing.every((v) => Number.isFinite(v) && v > 0)) {
    throw new SourceContextError('source image has no valid PixelSpacing');
  }
  if (iop.length !== 6 || !iop.every(Number.isFinite)) throw new SourceContextError('source image has no valid ImageOrientationPatient');
  if (ipp.length !== 3 || !ipp.every(Number.isFinite)) throw new SourceContextError('source image has no valid ImagePositionPatient');
  if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(columns) && columns > 0)) {
    throw new SourceContextError('source image has no valid Rows/Columns');
  }
  const thickness = Number(str(ds['SliceThickness']));
  return {
    sopClassUID: requiredUid(ds, 'SOPClassUID'),
    sopInstanceUID: requiredUid(ds, 'SOPInstanceUID'),
    seriesInstanceUID: requiredUid(ds, 'SeriesInstanceUID'),
    frameOfReferenceUID: requiredUid(ds, 'FrameOfReferenceUID'),
    rows,
    columns,
    pixelSpacing: [spacing[0]!, spacing[1]!],
    imageOrientationPatient: iop,
    imagePositionPatient: [ipp[0]!, ipp[1]!, ipp[2]!],
    sliceThicknessMm: Number.isFinite(thickness) && thickness > 0 ? thickness : null,
  };
}
