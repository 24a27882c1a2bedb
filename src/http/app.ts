import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { BonemetConfig } from '../config/schema.ts';
import type { DeliveryRecord, JobRecord, JobState, JobStore } from '../jobs/store.ts';
import { newJobId, newJobOutputIds, patientKey } from '../jobs/uids.ts';
import { idTag, type Logger } from '../util/log.ts';
import { requireBearerToken } from './auth.ts';
import { clinicalErrors, clinicalRecordSchema } from './clinical.ts';
import type { ServiceMetrics } from './metrics.ts';

export interface HttpDeps {
  config: BonemetConfig;
  store: JobStore;
  log: Logger;
  metrics: ServiceMetrics;
  apiToken: string;
  /** Engineer E's STOW-RS router (mounted at /dicomweb behind the bearer token), if available. */
  stowRouter: Router | null;
  /** A job was queued (override): wake the runner. */
  onJobQueued(): void;
  /** Liveness details for /healthz. */
  health(): Record<string, unknown>;
}

const JOB_STATES: readonly JobState[] = ['queued', 'running', 'done', 'failed', 'skipped'];
const isJobState = (s: string): s is JobState => (JOB_STATES as readonly string[]).includes(s);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DICOM_UID = /^[0-9]+(\.[0-9]+)*$/;

function deliveryView(d: DeliveryRecord): unknown {
  return {
    channel: d.channel, state: d.state, attempts: d.attempts, ackCode: d.ackCode, lastDetail: d.lastDetail,
    lastAttemptAt: iso(d.lastAttemptAt), nextAttemptAt: d.state === 'pending' ? iso(d.nextAttemptAt) : null,
    deliveredAt: iso(d.deliveredAt), files: d.relativePaths.map((p) => path.basename(p)),
  };
}

/** The job as the API shows it. No patient identifiers (the patient key is a hash and is not shown either). */
export function jobView(j: JobRecord, deliveries: DeliveryRecord[]): unknown {
  return {
    id: j.id, state: j.state, outcome: j.outcome, reason: j.reason, warnings: j.warnings,
    kind: j.kind, version: j.version, parentJobId: j.parentJobId, overrideSopInstanceUID: j.overrideSopInstanceUID,
    studyInstanceUID: j.studyInstanceUID, seriesInstanceUID: j.seriesInstanceUID, instanceCount: j.instanceCount,
    attempts: j.attempts, createdAt: iso(j.createdAt), startedAt: iso(j.startedAt), finishedAt: iso(j.finishedAt),
    stages: j.stages.map((s) => ({ stage: s.stage, ok: s.ok, ms: Math.round(s.durationMs), startedAt: iso(s.startedAt), detail: s.detail })),
    outputs: j.outputs.map((o) => ({ kind: o.kind, file: path.basename(o.relativePath), sopInstanceUID: o.sopInstanceUID })),
    // MSH-10 of the ORU (fixed per job): lets the EHR side reconcile re-sends.
    hl7MessageControlId: j.outputIds.hl7MessageControlId,
    deliveries: deliveries.map(deliveryView),
  };
}

const overrideSchema = z.object({ T11: z.string().regex(DICOM_UID, 'must be a SOP Instance UID').max(64) }).strict();

export function createHttpApp(deps: HttpDeps): express.Express {
  const { config, store, log, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const auth = requireBearerToken(deps.apiToken);
  const json = express.json({ limit: config.http.maxJsonBytes, strict: true });

  // Access log without URLs that may carry patient IDs (patients/:id): the route pattern is logged instead.
  app.use((req, res, next) => {
    const started = Date.now();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      log.debug({ method: req.method, route: route ?? (req.path.startsWith('/api/patients') ? '/api/patients/…' : req.path), status: res.statusCode, ms: Date.now() - started }, 'http');
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    try {
      res.json({ status: 'ok', jobs: store.counts(), pendingDeliveries: store.pendingDeliveryCount(), ...deps.health() });
    } catch (e) {
      res.status(503).json({ status: 'error', detail: e instanceof Error ? e.message : String(e) });
    }
  });

  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/api/jobs', (req, res) => {
    const limit = Math.min(1000, Math.max(1, Number.parseInt(String(req.query.limit ?? '100'), 10) || 100));
    const state = req.query.state === undefined ? undefined : String(req.query.state);
    if (state !== undefined && !isJobState(state)) {
      res.status(400).json({ error: `state: one of ${JOB_STATES.join(', ')}` });
      return;
    }
    res.json({ jobs: store.listJobs(limit, state).map((j) => jobView(j, store.deliveriesForJob(j.id))) });
  });

  const findJob = (req: Request, res: Response): JobRecord | null => {
    const id = String(req.params.id);
    const job = UUID.test(id) ? store.getJob(id) : null;
    if (job === null) res.status(404).json({ error: 'no such job' });
    return job;
  };

  app.get('/api/jobs/:id', (req, res) => {
    const job = findJob(req, res);
    if (job !== null) res.json(jobView(job, store.deliveriesForJob(job.id)));
  });

  // The SR carries the patient's name and ID (copied from the source study): token required, like writes.
  app.get('/api/jobs/:id/sr', auth, (req, res) => {
    const job = findJob(req, res);
    if (job === null) return;
    const sr = job.outputs.find((o) => o.kind === 'sr');
    if (sr === undefined) {
      res.status(404).json({ error: job.state === 'done' ? 'this job produced no SR' : `job is ${job.state}: no SR yet` });
      return;
    }
    res.type('application/dicom').send(fs.readFileSync(path.join(config.dataDir, sr.relativePath)));
  });

  app.get('/api/jobs/:id/result', (req, res) => {
    const job = findJob(req, res);
    if (job === null) return;
    const doc = store.resultJson(job.id);
    if (doc === null) {
      res.status(404).json({ error: `job is ${job.state}: no result${job.reason ? ` (${job.reason})` : ''}` });
      return;
    }
    res.type('application/json').send(doc);
  });

  app.post('/api/jobs/:id/override', auth, json, (req, res) => {
    const parent = findJob(req, res);
    if (parent === null) return;
    const parsed = overrideSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid override', problems: clinicalErrors(parsed.error) });
      return;
    }
    if (parent.state !== 'done') {
      res.status(409).json({ error: `job is ${parent.state}: override a finished job` });
      return;
    }
    const sop = parsed.data.T11;
    if (!store.jobInstances(parent.id).some((i) => i.sopInstanceUID === sop)) {
      res.status(400).json({ error: 'T11: this SOP Instance UID is not an image of the job\'s series' });
      return;
    }
    const job = store.createJob(
      { id: newJobId(), kind: 'override', seriesInstanceUID: parent.seriesInstanceUID, parentJobId: parent.id,
        overrideSopInstanceUID: sop, outputIds: newJobOutputIds(), skipReason: null },
      Date.now(),
    );
    if (job === null) {
      res.status(409).json({ error: 'could not create the override job' });
      return;
    }
    log.info({ jobId: job.id, parentJobId: parent.id }, 'radiologist T11 override: job queued');
    deps.onJobQueued();
    res.status(202).location(`/api/jobs/${job.id}`).json(jobView(job, []));
  });

  app.put('/api/patients/:patientId/clinical', auth, json, (req, res) => {
    const pid = String(req.params.patientId);
    if (pid.length === 0 || pid.length > 64) {
      res.status(400).json({ error: 'patientId: 1 to 64 characters (DICOM LO)' });
      return;
    }
    const parsed = clinicalRecordSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid clinical data', problems: clinicalErrors(parsed.error) });
      return;
    }
    store.putClinical(patientKey(pid), JSON.stringify(parsed.data), Date.now());
    log.info({ patient: idTag(pid), fields: Object.keys(parsed.data).length }, 'clinical data stored');
    res.status(200).json({ stored: parsed.data });
  });

  app.get('/api/patients/:patientId/clinical', auth, (req, res) => {
    const rec = store.getClinical(patientKey(String(req.params.patientId)));
    if (rec === null) {
      res.status(404).json({ error: 'no clinical data for this patient' });
      return;
    }
    res.json({ record: JSON.parse(rec.recordJson), updatedAt: iso(rec.updatedAt) });
  });

  if (deps.stowRouter !== null) {
    app.use('/dicomweb', auth, (req, res, next) => {
      // Refuse oversize uploads before reading them (the router streams, so this is the only cheap check).
      const length = Number(req.headers['content-length'] ?? '0');
      if (length > config.http.maxStowBytes) {
        res.status(413).json({ error: `STOW body larger than http.maxStowBytes (${config.http.maxStowBytes})` });
        return;
      }
      next();
    }, deps.stowRouter);
  }

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  // Body-parser errors (size limit, bad JSON) and anything unexpected: a clear message, never a stack.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status ?? 500;
    if (err.type === 'entity.too.large') {
      res.status(413).json({ error: `request body larger than http.maxJsonBytes (${config.http.maxJsonBytes})` });
    } else if (err.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'request body is not valid JSON' });
    } else {
      if (status >= 500) log.error({ err: err.message }, 'http handler failed');
      res.status(status).json({ error: status >= 500 ? 'internal error' : err.message });
    }
  });
  return app;
}
