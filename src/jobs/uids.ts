import { createHash, randomUUID } from 'node:crypto';
import type { JobOutputIds } from './store.ts';

/**
 * A DICOM UID under the 2.25 root (ISO/IEC 9834-8: a UUID written as one decimal integer),
 * so no organisation root has to be registered. At most 44 characters, well under 64.
 */
export function newDicomUid(): string {
  return `2.25.${BigInt('0x' + randomUUID().replace(/-/g, '')).toString(10)}`;
}

/** All output identifiers for one job, generated once when the job is created. */
export function newJobOutputIds(): JobOutputIds {
  return {
    srSeriesInstanceUID: newDicomUid(),
    srSopInstanceUID: newDicomUid(),
    heatmapSeriesInstanceUID: newDicomUid(),
    heatmapSopInstanceUID: newDicomUid(),
    // MSH-10 is ST up to 20 characters in v2.5.1.
    hl7MessageControlId: randomUUID().replace(/-/g, '').slice(0, 20).toUpperCase(),
  };
}

export function newJobId(): string {
  return randomUUID();
}

/**
 * The key under which clinical data is stored and matched to studies. A hash, so the job
 * table and URLs-in-logs never need the patient ID itself. Trimmed: DICOM LO values may carry padding.
 */
export function patientKey(patientId: string): string {
  return createHash('sha256').update('bonemet-patient:').update(patientId.trim()).digest('hex');
}
