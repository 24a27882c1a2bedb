import { parentPort } from 'node:worker_threads';
import { computeJob } from './compute.ts';
import type { ComputeRequest } from './pipeline.ts';

/** Worker side: one compute request at a time, answered with the result or an error message. */
if (parentPort === null) throw new Error('compute-worker must run in a worker thread');
const port = parentPort;
port.on('message', (msg: { id: number; request: ComputeRequest }) => {
  computeJob(msg.request).then(
    (result) => {
      const transfer = [result.sr?.bytes.buffer, result.heatmapSc?.bytes.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      port.postMessage({ id: msg.id, ok: true, result }, transfer);
    },
    (e: unknown) => port.postMessage({ id: msg.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
