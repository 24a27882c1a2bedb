import { createRequire } from 'node:module';
import dimse from 'dcmjs-dimse';

/**
 * Silences the DICOM network libraries' own console logging (our pino logs say what matters):
 *  - dcmjs-dimse logs every presentation context at INFO (~800 lines per storescu association);
 *  - dcmjs-dimse and its dcmjs-codecs each carry a nested dcmjs 0.50, which console-warns "Unknown name
 *    in dataset" with the full value for every private tag it (de)naturalises when sending. Reached
 *    through requires anchored at those packages so they are the module instances actually in use.
 */
export function quietDimseLibraries(): void {
  dimse.log.setLevel('warn');
  try {
    // createRequire(import.meta.url), not import.meta.resolve: the latter is missing when tsx runs this as CJS (mocha).
    const requireFromDimse = createRequire(createRequire(import.meta.url).resolve('dcmjs-dimse'));
    const requireFromCodecs = createRequire(requireFromDimse.resolve('dcmjs-codecs'));
    for (const load of [requireFromDimse, requireFromCodecs]) {
      (load('dcmjs') as { log?: { setLevel(level: string): void } }).log?.setLevel('error');
    }
  } catch {
    // layout changed (e.g. dcmjs deduplicated): nothing left to silence
  }
}
