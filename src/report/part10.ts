import dcmjs from 'dcmjs';
import { derivedUid } from './uids.ts';

const { DicomMetaDictionary, DicomDict } = dcmjs.data;

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Fixed per product so receivers can tell which implementation wrote a file. */
export const IMPLEMENTATION_CLASS_UID = derivedUid('bonemet', 'implementation-class');

/** A dcmjs "naturalized" dataset: attribute keywords as keys, JS values. */
export type NaturalDataset = Record<string, unknown>;

/**
 * Serialise a naturalized dataset as a DICOM Part 10 file in Explicit VR Little Endian, with a
 * file meta header naming this implementation. Sets Specific Character Set itself (see below).
 */
export function writePart10(
  dataset: NaturalDataset,
  implementationVersion: string,
): Uint8Array {
  const sopClassUID = dataset['SOPClassUID'];
  const sopInstanceUID = dataset['SOPInstanceUID'];
  if (typeof sopClassUID !== 'string' || typeof sopInstanceUID !== 'string') {
    throw new Error('writePart10: dataset lacks SOPClassUID/SOPInstanceUID');
  }
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUID,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    // SH: at most 16 characters.
    ImplementationVersionName: `BONEMET_${implementationVersion}`.slice(0, 16),
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset({ ...dataset, ...specificCharacterSetFor(dataset) });
  return new Uint8Array(dict.write() as ArrayBuffer);
}

function hasNonAscii(value: unknown): boolean {
  if (typeof value === 'string') return /[^\x00-\x7f]/.test(value);
  if (Array.isArray(value)) return value.some(hasNonAscii);
  if (value && typeof value === 'object' && !(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) {
    return Object.values(value).some(hasNonAscii);
  }
  return false;
}

/**
 * Specific Character Set for a dataset dcmjs will write: dcmjs encodes all text as UTF-8, so
 * "ISO_IR 192" when any string is non-ASCII; otherwise none (the default repertoire), which
 * every receiver understands.
 */
export function specificCharacterSetFor(dataset: NaturalDataset): { SpecificCharacterSet?: string } {
  return hasNonAscii(dataset) ? { SpecificCharacterSet: 'ISO_IR 192' } : {};
}

/** Naturalized code sequence item for a coded concept. */
export function codeItem(c: { value: string; scheme: string; meaning: string }): NaturalDataset {
  return { CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning };
}
