// Worker-thread entry for the job compute pipeline. Plain JS because a worker does not inherit the
// tsx loader of its parent: register it here (as bin/bonemet.js does), then load the TypeScript side.
import { register } from 'tsx/esm/api';
register();
await import('./compute-worker.ts');
