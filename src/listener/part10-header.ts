import dcmjs from 'dcmjs';
import { IMPLEMENTATION_CLASS_UID } from '../report/part10.ts';

/**
 * The Part 10 preamble + File Meta Information for a data set received over DIMSE. dcmjs-dimse streams
 * only the bare data set (in the accepted transfer syntax); prefixing this header makes the spool file
 * a normal DICOM file without re-encoding a single byte of the data set.
 */

/** SH, at most 16 characters. */
const IMPLEMENTATION_VERSION_NAME = 'BONEMET_LISTENER';

export interface Part10HeaderFields {
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  /** Calling AE title of the sender (Source Application Entity Title, 0002,0016). */
  sourceAeTitle?: string;
}

export function buildPart10Header(fields: Part10HeaderFields): Uint8Array {
  const meta: Record<string, unknown> = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: fields.sopClassUID,
    MediaStorageSOPInstanceUID: fields.sopInstanceUID,
    TransferSyntaxUID: fields.transferSyntaxUID,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  };
  if (fields.sourceAeTitle) meta.SourceApplicationEntityTitle = fields.sourceAeTitle;
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  // An empty data set: write() then yields exactly preamble + "DICM" + group 0002.
  const bytes: ArrayBuffer = dict.write({ allowInvalidVRLength: true });
  return new Uint8Array(bytes);
}
