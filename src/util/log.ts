import { createHash } from 'node:crypto';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys that could carry patient identity. pino removes them wherever they appear (one level
 * deep and nested in `err`/`req`) so a careless `log.info({ patientId }, ...)` cannot leak.
 * Code must still never put names/IDs into message strings; this is the safety net.
 */
const REDACTED_PATHS = [
  'patientName', 'patientId', 'patientID', 'PatientName', 'PatientID', 'patientBirthDate',
  'accessionNumber', 'AccessionNumber', 'source', 'clinical',
  '*.patientName', '*.patientId', '*.PatientName', '*.PatientID', '*.accessionNumber',
  'req.headers.authorization', 'headers.authorization', 'authorization',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { svc: 'bonemet' },
      redact: { paths: REDACTED_PATHS, remove: true },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * A short, stable, non-reversible tag for an identifier (patient ID in a URL, etc.), so log lines
 * about the same patient can be correlated without containing the ID.
 */
export function idTag(value: string): string {
  return createHash('sha256').update('bonemet-log:').update(value).digest('hex').slice(0, 12);
}
