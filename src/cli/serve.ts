import fs from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig, redactConfig, type ConfigOverrides } from '../config/load.ts';
import type { BonemetConfig } from '../config/schema.ts';
import { createHttpApp } from '../http/app.ts';
import { ensureApiToken } from '../http/auth.ts';
import { ServiceMetrics } from '../http/metrics.ts';
import type { IngestSink } from '../jobs/ingest-sink.ts';
import { JobRunner } from '../jobs/runner.ts';
import { SeriesTracker } from '../jobs/series-tracker.ts';
import { SqliteJobStore } from '../jobs/sqlite-store.ts';
import { WorkerComputer } from '../jobs/worker-computer.ts';
import { startDimseListener, type DimseListener } from '../listener/dimse-scp.ts';
import { createStowRouter } from '../listener/stow.ts';
import { OutboxDispatcher, type Senders } from '../outbox/dispatcher.ts';
import { sendByCStore } from '../outbox/dimse-sender.ts';
import { sendHl7 } from '../outbox/mllp-sender.ts';
import { sendByStow } from '../outbox/stow-sender.ts';
import { createLogger, type Logger } from '../util/log.ts';

export function softwareVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** Parse a port option; commander hands strings. */
export function parsePortOption(name: string): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`config error: ${name}: expected a port number 0-65535, got "${v}"`);
    return n;
  };
}

/** The real network senders behind the outbox (C-STORE SCU, STOW-RS client, MLLP client). */
export const networkSenders: Senders = { cstore: (d, aet, f) => sendByCStore(d, aet, f), stow: (u, h, f) => sendByStow(u, h, f), mllp: sendHl7 };

export interface RunningService {
  config: BonemetConfig;
  httpPort: number;
  dimsePort: number;
  /** Where listeners report stored instances (exposed for in-process tests). */
  sink: IngestSink;
  apiToken: string;
  stop(): Promise<void>;
}

/** Start everything: store, series tracker, runner, dispatcher, HTTP (and the listeners). */
export async function startService(config: BonemetConfig, log: Logger): Promise<RunningService> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  fs.mkdirSync(path.join(config.dataDir, 'results'), { recursive: true });
  const store = new SqliteJobStore(path.join(config.dataDir, 'bonemet.sqlite'));
  const metrics = new ServiceMetrics(store);
  const { token, source: tokenSource } = ensureApiToken(config.http.apiToken, config.dataDir);
  const version = softwareVersion();

  const dispatcher = new OutboxDispatcher(store, networkSenders, config, log.child({ part: 'outbox' }), {
    onAttempt: (channel, status) => metrics.deliveryAttempts.inc({ channel, status }),
  });
  const computer = new WorkerComputer(log);
  const runner = new JobRunner(store, computer, config, log.child({ part: 'runner' }), version, {
    onJobFinished: (job) => {
      metrics.jobsFinished.inc({ state: job.state, outcome: job.outcome ?? 'none' });
      dispatcher.notify();
    },
    onStage: (t) => metrics.stageDuration.observe({ stage: t.stage, ok: String(t.ok) }, t.durationMs / 1000),
  });
  const tracker = new SeriesTracker(store, config.series.quietPeriodSeconds * 1000, log.child({ part: 'series' }), () => runner.notify(),
    (isNew) => metrics.instancesReceived.inc({ new: String(isNew) }));

  const startedAt = Date.now();
  const app = createHttpApp({
    config, store, log: log.child({ part: 'http' }), metrics, apiToken: token,
    stowRouter: createStowRouter({ config, sink: tracker, logger: log }),
    onJobQueued: () => runner.notify(),
    health: () => ({ version, uptimeS: Math.round((Date.now() - startedAt) / 1000), currentJobId: runner.currentJobId }),
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.http.port, config.http.host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const httpPort = typeof address === 'object' && address !== null ? address.port : config.http.port;

  let dimse: DimseListener;
  try {
    dimse = await startDimseListener(config, tracker, log);
  } catch (e) {
    server.close();
    store.close();
    throw e;
  }

  runner.start();
  tracker.start();
  dispatcher.start();

  log.info({ config: redactConfig(config) }, 'effective configuration');
  log.info(
    {
      version, dataDir: config.dataDir, http: `http://${config.http.host}:${httpPort}`,
      dimse: `${config.dimse.aeTitle}@${dimse.port}`, apiToken: tokenSource,
      destinations: {
        pacsDimse: config.destinations.pacsDimse !== null, pacsStow: config.destinations.pacsStowUrl !== null,
        ehrMllp: config.destinations.ehrMllp !== null,
      },
    },
    'bonemet started',
  );
  if (config.destinations.pacsDimse === null && config.destinations.pacsStowUrl === null && config.destinations.ehrMllp === null) {
    log.info('no destination configured: results stay in the data dir (GET /api/jobs/:id/sr, /result)');
  }

  let stopping: Promise<void> | null = null;
  return {
    config,
    httpPort,
    dimsePort: dimse.port,
    sink: tracker,
    apiToken: token,
    stop: () => {
      stopping ??= (async () => {
        await dimse.close();
        tracker.stop();
        await dispatcher.stop();
        // Terminating the worker interrupts a running job; it stays 'running' in the store and resumes at the next start.
        const runnerStopped = runner.stop();
        await computer.close();
        await runnerStopped;
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
        store.close();
        log.info('bonemet stopped');
      })();
      return stopping;
    },
  };
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the service: DIMSE listener (default AE BONEMET, port 11112), HTTP API (default 127.0.0.1:8080), jobs, outbox')
    .option('-c, --config <file>', 'JSON config file (defaults: bonemet config --print-defaults)')
    .option('--data-dir <dir>', 'data directory (spool, job store, results, api-token)')
    .option('--http-port <port>', 'HTTP port', parsePortOption('http.port'))
    .option('--dimse-port <port>', 'DIMSE port', parsePortOption('dimse.port'))
    .action(async (opts: { config?: string } & ConfigOverrides) => {
      const config = loadConfig(opts.config, { dataDir: opts.dataDir, httpPort: opts.httpPort, dimsePort: opts.dimsePort });
      const log = createLogger(config.logLevel);
      const service = await startService(config, log);
      let signalled = false;
      const shutdown = (signal: string): void => {
        if (signalled) return;
        signalled = true;
        log.info({ signal }, 'stopping');
        service.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
