import { execFileSync } from 'node:child_process';

/**
 * Writes a small synthetic Part 10 instance (Explicit VR Little Endian, fresh UIDs) with Debian's
 * pydicom, for tests that need an object no shared series provides (an MR, an SR, a private class,
 * a 32 MB CT). `extraPython` runs with `ds` (the data set) and `np` in scope before saving, e.g.
 * to add pixel attributes; it must be top-level (unindented) Python.
 */
export function writeSyntheticInstance(file: string, sopClassUID: string, modality: string, extraPython = ''): void {
  const script = `
import sys, numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
ds = Dataset(); ds.file_meta = FileMetaDataset()
ds.SOPClassUID = sys.argv[2]; ds.SOPInstanceUID = generate_uid()
ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID; ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid(); ds.Modality = sys.argv[3]
${extraPython}
ds.is_little_endian = True; ds.is_implicit_VR = False
ds.save_as(sys.argv[1], write_like_original=False)
`;
  execFileSync('/usr/bin/python3', ['-c', script, file, sopClassUID, modality]);
}
