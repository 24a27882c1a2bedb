import { Worker } from 'node:worker_threads';
import type { Logger } from '../util/log.ts';
import { readSourceContext } from './compute.ts';
import type { ComputeRequest, ComputeResult, JobComputer } from './pipeline.ts';
import type { SourceStudyContext } from '../report/types.ts';

type Pending = { resolve: (r: ComputeResult) => void; reject: (e: Error) => void };

/**
 * Runs the CPU-heavy compute (decode ~hundreds of slices, analysis, ONNX) in a worker thread so the
 * DIMSE listener, STOW and the HTTP API keep answering while a job runs. A worker that dies
 * (out of memory, native crash) fails only the job it was running and is replaced.
 */
export class WorkerComputer implements JobComputer {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly log: Logger) {}

  private ensureWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const w = new Worker(new URL('./compute-worker-entry.mjs', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 3072 } });
    w.on('message', (msg: { id: number; ok: boolean; result?: ComputeResult; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.ok && msg.result !== undefined) p.resolve(msg.result);
      else p.reject(new Error(msg.error ?? 'compute failed'));
    });
    const failAll = (why: string): void => {
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
      if (this.worker === w) this.worker = null;
    };
    w.on('error', (e) => {
      this.log.error({ err: e.message }, 'compute worker crashed');
      failAll(`compute worker crashed: ${e.message}`);
    });
    w.on('exit', (code) => failAll(`compute worker exited (code ${code})`));
    this.worker = w;
    return w;
  }

  async readSource(path: string): Promise<SourceStudyContext> {
    return readSourceContext(path);
  }

  compute(request: ComputeRequest): Promise<ComputeResult> {
    const id = this.nextId++;
    return new Promise<ComputeResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ensureWorker().postMessage({ id, request });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w !== null) await w.terminate();
  }
}
