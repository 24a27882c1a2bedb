import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** A long-running peer process (Orthanc, storescp) whose output goes to a log file. */
export interface PeerProcess {
  child: ChildProcess;
  logPath: string;
  /** Resolves once the process has exited (however it ended). */
  exited: Promise<void>;
  /** Terminates the process (SIGTERM, SIGKILL after graceMs) and resolves once it has exited (Orthanc cannot restart on the same index before that). */
  stop(graceMs?: number): Promise<void>;
  /** Last lines of the log, for assertion messages. */
  tail(lines?: number): string;
}

const running = new Set<ChildProcess>();
// A failing test must not leave Orthanc/storescp behind holding ports and temp dirs.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function startPeerProcess(command: string, args: string[], logPath: string, cwd?: string): PeerProcess {
  const log = fs.openSync(logPath, 'a');
  const child = spawn(command, args, { stdio: ['ignore', log, log], cwd });
  fs.closeSync(log);
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  exited.then(() => running.delete(child));
  return {
    child,
    logPath,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
    },
    tail(lines = 30) {
      try {
        return fs.readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for matching dcmtk's messages. */
  output: string;
}

/** Runs a command-line tool to completion (never rejects on a non-zero exit: tests inspect the code). */
export async function runTool(command: string, args: string[], timeoutMs = 300_000): Promise<ToolResult> {
  return await new Promise<ToolResult>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr, output: stdout + stderr });
    });
  });
}
