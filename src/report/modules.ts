/** DICOM modules shared by every object bonemet derives from a source study (SR, heatmap SC). */
import { PRIVATE_SCHEME } from './codes.ts';
import type { NaturalDataset } from './part10.ts';
import type { ReportInput } from './types.ts';

/** Patient + General Study modules, copied from the source series (Type 2: may be empty). */
export function patientAndStudyModules(input: ReportInput): NaturalDataset {
  const s = input.source;
  return {
    PatientName: s.patientName,
    PatientID: s.patientId,
    PatientBirthDate: s.patientBirthDate,
    PatientSex: s.patientSex,
    StudyInstanceUID: s.studyInstanceUID,
    StudyDate: s.studyDate,
    StudyTime: s.studyTime,
    ReferringPhysicianName: s.referringPhysicianName,
    StudyID: s.studyId,
    AccessionNumber: s.accessionNumber,
    StudyDescription: s.studyDescription,
  };
}

/**
 * SOP Common Coding Scheme Identification Sequence: declares the private 99BONEMET scheme so a
 * receiver can tell whose codes they are.
 */
export function privateCodingSchemeIdentification(): NaturalDataset[] {
  return [
    {
      CodingSchemeDesignator: PRIVATE_SCHEME,
      CodingSchemeName: 'bonemet private codes for T11 body composition and research risk model',
      CodingSchemeResponsibleOrganization: 'bonemet project',
    },
  ];
}
