import { STORABLE_TRANSFER_SYNTAXES } from './validate-instance.ts';

/**
 * Presentation-context decisions for the C-STORE SCP (pure: UIDs in, decision out).
 */

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';
const STORAGE_SOP_CLASS_PREFIX = '1.2.840.10008.5.1.4.1.1.';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const STORABLE = new Set(STORABLE_TRANSFER_SYNTAXES);

export type ContextDecision =
  | { accept: true; transferSyntaxUID: string }
  | { accept: false; why: 'abstract-syntax-not-supported' | 'transfer-syntaxes-not-supported' };

/**
 * Verification: any uncompressed syntax. Storage SOP classes (ALL of them, not only CT): accepted, so a
 * sender routing a whole study gets a per-instance 0x0122 "SOP class not supported" naming the reason
 * instead of a failed association for the study's SR or scout. Transfer syntax: the first one the
 * caller proposes that we can store, i.e. the caller's preference order (normally the file's own
 * encoding), so the sender never has to transcode. Anything else (C-FIND, C-MOVE, ...) is rejected.
 */
export function decidePresentationContext(abstractSyntaxUID: string, proposed: readonly string[]): ContextDecision {
  if (abstractSyntaxUID === VERIFICATION_SOP_CLASS) {
    const ts = proposed.find((t) => t === IMPLICIT_LE || t === EXPLICIT_LE);
    return ts ? { accept: true, transferSyntaxUID: ts } : { accept: false, why: 'transfer-syntaxes-not-supported' };
  }
  if (!abstractSyntaxUID.startsWith(STORAGE_SOP_CLASS_PREFIX)) {
    return { accept: false, why: 'abstract-syntax-not-supported' };
  }
  const ts = proposed.find((t) => STORABLE.has(t));
  return ts ? { accept: true, transferSyntaxUID: ts } : { accept: false, why: 'transfer-syntaxes-not-supported' };
}

/** AE titles compare without the space padding DICOM allows (PS3.5 AE: leading/trailing spaces insignificant). */
export function normaliseAeTitle(aeTitle: string): string {
  return aeTitle.trim();
}

/** Empty allow-list = any caller. */
export function isCallingAeAllowed(callingAeTitle: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const caller = normaliseAeTitle(callingAeTitle);
  return allowed.some((a) => normaliseAeTitle(a) === caller);
}
