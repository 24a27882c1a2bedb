import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports.ts';
import { runTool, startPeerProcess, type ToolResult } from './process.ts';

export interface DimsePeerAddress {
  host: string;
  port: number;
  /** Called AE title. */
  aet: string;
  /** Calling AE title (defaults to STORESCU / ECHOSCU). */
  callingAet?: string;
}

/**
 * dcmtk storescu. Pass `extraArgs: ['-xs']` (JPEG lossless) or `['-xv']` (JPEG 2000 lossless): by default
 * storescu proposes only uncompressed syntaxes and would have to decompress compressed files itself.
 * `-v` is always on so the per-instance response status lines are in `output`.
 */
export async function storescu(
  files: string[],
  peer: DimsePeerAddress & { extraArgs?: string[] },
): Promise<ToolResult> {
  return await runTool('storescu', [
    '-v',
    '-aet',
    peer.callingAet ?? 'STORESCU',
    '-aec',
    peer.aet,
    ...(peer.extraArgs ?? []),
    peer.host,
    String(peer.port),
    ...files,
  ]);
}

/** dcmtk echoscu (C-ECHO); code 0 = success. */
export async function echoscu(peer: DimsePeerAddress & { extraArgs?: string[] }): Promise<ToolResult> {
  return await runTool('echoscu', [
    '-v',
    '-aet',
    peer.callingAet ?? 'ECHOSCU',
    '-aec',
    peer.aet,
    ...(peer.extraArgs ?? []),
    peer.host,
    String(peer.port),
  ]);
}

export interface StorescpPeer {
  host: string;
  port: number;
  aet: string;
  /** Where received files land (`-od`); removed by stop() when startStorescp created it. */
  dir: string;
  /** Files currently in `dir`. */
  receivedFiles(): string[];
  stop(): Promise<void>;
}

/**
 * dcmtk storescp writing into `dir` (created if missing), accepting the usual compressed syntaxes too
 * (`+xa`), on a free port unless one is given.
 */
export async function startStorescp(
  dir?: string,
  opts: { aet?: string; port?: number; extraArgs?: string[] } = {},
): Promise<StorescpPeer> {
  // A dir we create is ours to remove on stop(); a caller's dir is left for the caller to inspect.
  const ownsDir = dir === undefined;
  const outDir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'storescp-'));
  fs.mkdirSync(outDir, { recursive: true });
  const aet = opts.aet ?? 'STORESCP';
  let port = 0;
  let logPath = '';
  let proc: ReturnType<typeof startPeerProcess> | null = null;
  // A port from freePort() may be taken before storescp binds it (then storescp exits at once, and
  // waitForPort would see the other listener): check storescp is still alive, retry with a new port.
  for (let attempt = 1; attempt <= 3 && proc === null; attempt++) {
    port = opts.port ?? (await freePort());
    logPath = path.join(os.tmpdir(), `storescp-${port}-${process.pid}.log`);
    const started = startPeerProcess('storescp', ['+xa', '-aet', aet, '-od', outDir, ...(opts.extraArgs ?? []), String(port)], logPath);
    let problem: string | null = null;
    try {
      await waitForPort(port);
      await new Promise((r) => setTimeout(r, 100));
      if (started.child.exitCode !== null) problem = `storescp exited (port ${port} taken?)`;
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem === null) {
      proc = started;
      break;
    }
    const tail = started.tail();
    await started.stop();
    fs.rmSync(logPath, { force: true });
    if (opts.port !== undefined || attempt === 3) throw new Error(`storescp did not start: ${problem}\n${tail}`);
  }
  if (!proc) throw new Error('storescp did not start');
  const running = proc;
  return {
    host: '127.0.0.1',
    port,
    aet,
    dir: outDir,
    receivedFiles: () => fs.readdirSync(outDir).filter((f) => !f.startsWith('.')),
    stop: async () => {
      await running.stop();
      fs.rmSync(logPath, { force: true });
      if (ownsDir) fs.rmSync(outDir, { recursive: true, force: true });
    },
  };
}
