import { createHash } from 'node:crypto';

/**
 * Deterministic DICOM UID under the 2.25 root (ISO/IEC 9834-8 UUID-derived form): 128 bits of a
 * SHA-256 over the parts. Deterministic so that re-running the same job yields the same tracking
 * UIDs (idempotent outbox); appending suffixes to an existing UID could overflow the 64-char limit.
 */
export function derivedUid(...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  const value = BigInt('0x' + digest.subarray(0, 16).toString('hex'));
  return `2.25.${value.toString(10)}`;
}

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/** True when `uid` is a syntactically valid DICOM UID (PS3.5 9.1). */
export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && UID_PATTERN.test(uid);
}
