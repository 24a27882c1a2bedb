/**
 * Thrown by the analysis stages when the input cannot be analysed at all (no usable axial CT,
 * unsupported geometry...). The message is the reason shown to users: it never carries patient data.
 */
export class NotAssessableInputError extends Error {
  override readonly name = 'NotAssessableInputError';
  constructor(reason: string) {
    super(reason);
  }
}

/** One instance could not be read or decoded; the volume builder turns it into an exclusion. */
export class DicomDecodeError extends Error {
  override readonly name = 'DicomDecodeError';
}
