/** Sentences shared by the SR and the ORU, so both say the same thing the same way. */
import type { AnalysisResult } from '../analysis/types.ts';
import type { PublishedEvidence } from '../model/types.ts';

export function notAssessableText(a: AnalysisResult): string {
  return `Not assessable: ${a.reason ?? a.levelFinding.reason ?? 'reason not given'}`;
}

export function sfiCategoryText(ev: PublishedEvidence): string {
  if (ev.sfiCategory === null) return 'SFI unknown';
  return ev.sfiCategory === 'below-cutoff'
    ? `SFI below ${ev.sfiCutoffCm2M2} cm2/m2 (higher published risk)`
    : `SFI at or above ${ev.sfiCutoffCm2M2} cm2/m2`;
}
