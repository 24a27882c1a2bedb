import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dcmjs from 'dcmjs';
import { freePort, runTool, startPeerProcess, type PeerProcess } from './peers/index.ts';

// Runs the real `bonemet serve` (bin/bonemet.js) as a child process, as an operator would.
const here = path.dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = path.resolve(here, '..');
export const BIN = path.join(PROJECT_ROOT, 'bin/bonemet.js');
export const CHEST_CT_DIR = path.resolve(PROJECT_ROOT, '../shared/data/ct/chest-ct-1/dicom');
/** The test patient's identifiers (PatientName = PatientID in this de-identified series). */
export const CHEST_CT_PATIENT_ID = 'MIDRC-RICORD-1A-419639-000082';

export function chestCtFiles(): string[] {
  return fs.readdirSync(CHEST_CT_DIR).filter((f) => f.endsWith('.dcm')).sort().map((f) => path.join(CHEST_CT_DIR, f));
}

/** The naturalized data set of a Part 10 file up to (not including) Pixel Data. */
export function dicomHeader(file: string): Record<string, unknown> {
  const b = fs.readFileSync(file);
  const dict = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), { untilTag: '7FE00010' });
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict) as Record<string, unknown>;
}

export interface JobView {
  id: string; state: string; outcome: string | null; reason: string | null; version: number; kind: string; attempts: number;
  instanceCount: number; studyInstanceUID: string; warnings: string[];
  stages: { stage: string; ok: boolean; ms: number; detail: string | null }[];
  outputs: { kind: string; file: string; sopInstanceUID: string | null }[];
  deliveries: { channel: string; state: string; attempts: number; ackCode: string | null; lastDetail: string | null }[];
}

export interface BonemetProcess {
  dataDir: string;
  httpPort: number;
  dimsePort: number;
  base: string;
  token(): string;
  jobs(): Promise<JobView[]>;
  job(id: string): Promise<JobView>;
  /** Everything the service wrote to stdout/stderr, over all its runs. */
  logText(): string;
  /** (Re)start the process on the same data dir and ports. */
  start(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined>, timeoutMs = 240_000, detail: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Starts `bonemet serve` with a temp data dir and the given config (ports are filled in when absent). */
export async function startBonemet(config: Record<string, unknown> & { http?: Record<string, unknown>; dimse?: Record<string, unknown> } = {}): Promise<BonemetProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-e2e-'));
  const httpPort = (config.http?.port as number | undefined) ?? (await freePort());
  const dimsePort = (config.dimse?.port as number | undefined) ?? (await freePort());
  const full = { logLevel: 'debug', ...config, dataDir: path.join(dataDir, 'data'), http: { ...config.http, port: httpPort }, dimse: { ...config.dimse, port: dimsePort } };
  const configPath = path.join(dataDir, 'bonemet.json');
  fs.writeFileSync(configPath, JSON.stringify(full, null, 2));
  const logPath = path.join(dataDir, 'service.log');
  const base = `http://127.0.0.1:${httpPort}`;
  // startPeerProcess also SIGKILLs the service if the test process exits without stopping it.
  let running: PeerProcess | null = null;

  const logText = (): string => (fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : '');
  const get = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${base}${p}`);
    if (!res.ok) throw new Error(`GET ${p} -> ${res.status}`);
    return (await res.json()) as T;
  };

  const proc: BonemetProcess = {
    dataDir,
    httpPort,
    dimsePort,
    base,
    token: () => fs.readFileSync(path.join(dataDir, 'data', 'api-token'), 'utf8').trim(),
    jobs: async () => (await get<{ jobs: JobView[] }>('/api/jobs')).jobs,
    job: async (id) => get<JobView>(`/api/jobs/${id}`),
    logText,
    async start() {
      const service = startPeerProcess(process.execPath, [BIN, 'serve', '--config', configPath], logPath, os.tmpdir());
      running = service;
      const c = service.child;
      await waitFor('bonemet /healthz', async () => {
        if (c.exitCode !== null) throw new Error(`bonemet exited with ${c.exitCode}:\n${logText().slice(-3000)}`);
        try {
          return (await fetch(`${base}/healthz`)).ok ? true : null;
        } catch {
          return null;
        }
      }, 60_000);
    },
    async kill9() {
      running?.child.kill('SIGKILL');
      await running?.exited;
      running = null;
    },
    async stop() {
      await running?.stop(15_000);
      running = null;
    },
    async cleanup() {
      await proc.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await proc.start();
  return proc;
}

/** Runs the CLI to completion. */
export async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return await runTool(process.execPath, [BIN, ...args]);
}
