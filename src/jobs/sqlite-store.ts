import Database from 'better-sqlite3';
import type { StoredInstance } from './ingest-sink.ts';
import type {
  DeliveryChannel, DeliveryRecord, DeliveryState, JobInstance, JobOutput, JobRecord, JobState,
  JobStore, NewJob, StageTiming,
} from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  sop_instance_uid TEXT NOT NULL UNIQUE,
  series_instance_uid TEXT NOT NULL,
  study_instance_uid TEXT NOT NULL,
  sop_class_uid TEXT NOT NULL,
  modality TEXT NOT NULL,
  path TEXT NOT NULL,
  calling_ae_title TEXT,
  received_via TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_series ON instances(series_instance_uid, seq);
CREATE TABLE IF NOT EXISTS series (
  series_instance_uid TEXT PRIMARY KEY,
  study_instance_uid TEXT NOT NULL,
  modality TEXT NOT NULL,
  last_instance_at INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  -- highest instance seq covered by a job: a new job is due when last_seq > jobbed_seq
  jobbed_seq INTEGER NOT NULL DEFAULT 0,
  versions INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  series_instance_uid TEXT NOT NULL,
  study_instance_uid TEXT NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  parent_job_id TEXT,
  override_sop_instance_uid TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  instance_cutoff_seq INTEGER NOT NULL,
  output_ids TEXT NOT NULL,
  outcome TEXT,
  reason TEXT,
  warnings TEXT NOT NULL DEFAULT '[]',
  patient_key TEXT,
  result_json TEXT,
  UNIQUE (series_instance_uid, version)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created_at);
CREATE TABLE IF NOT EXISTS job_stages (
  job_id TEXT NOT NULL REFERENCES jobs(id),
  stage TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  ok INTEGER NOT NULL,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS job_stages_job ON job_stages(job_id);
CREATE TABLE IF NOT EXISTS job_outputs (
  job_id TEXT NOT NULL REFERENCES jobs(id),
  kind TEXT NOT NULL,
  relative_path TEXT NOT NULL,
  sop_instance_uid TEXT,
  PRIMARY KEY (job_id, kind)
);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL REFERENCES jobs(id),
  channel TEXT NOT NULL,
  relative_paths TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_attempt_at INTEGER,
  last_detail TEXT,
  ack_code TEXT,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,
  UNIQUE (job_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_attempt_at);
CREATE TABLE IF NOT EXISTS clinical (
  patient_key TEXT PRIMARY KEY,
  record_json TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

interface JobRow {
  id: string; series_instance_uid: string; study_instance_uid: string; version: number; kind: string;
  parent_job_id: string | null; override_sop_instance_uid: string | null; state: string; attempts: number;
  created_at: number; started_at: number | null; finished_at: number | null; instance_cutoff_seq: number;
  output_ids: string; outcome: string | null; reason: string | null; warnings: string; patient_key: string | null;
}

interface DeliveryRow {
  id: number; job_id: string; channel: string; relative_paths: string; state: string; attempts: number;
  next_attempt_at: number; last_attempt_at: number | null; last_detail: string | null; ack_code: string | null;
  created_at: number; delivered_at: number | null;
}

/** SQLite job store: WAL + synchronous=FULL so a committed transaction survives power loss / kill -9. */
export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  recordInstance(i: StoredInstance, now: number): boolean {
    return this.db.transaction((): boolean => {
      const inserted = this.db
        .prepare(
          `INSERT OR IGNORE INTO instances (sop_instance_uid, series_instance_uid, study_instance_uid, sop_class_uid,
             modality, path, calling_ae_title, received_via, received_at) VALUES (?,?,?,?,?,?,?,?,?)`,
        )
        .run(i.sopInstanceUID, i.seriesInstanceUID, i.studyInstanceUID, i.sopClassUID, i.modality, i.path,
          i.callingAeTitle, i.receivedVia, now);
      if (inserted.changes === 0) return false;
      const seq = Number(inserted.lastInsertRowid);
      this.db
        .prepare(
          `INSERT INTO series (series_instance_uid, study_instance_uid, modality, last_instance_at, last_seq)
           VALUES (?,?,?,?,?)
           ON CONFLICT(series_instance_uid) DO UPDATE SET last_instance_at = excluded.last_instance_at, last_seq = excluded.last_seq`,
        )
        .run(i.seriesInstanceUID, i.studyInstanceUID, i.modality, now, seq);
      return true;
    })();
  }

  seriesAwaitingJob(quietSince: number): { seriesInstanceUID: string; modality: string; newInstances: number }[] {
    const rows = this.db
      .prepare(
        `SELECT s.series_instance_uid AS uid, s.modality AS modality,
           (SELECT COUNT(*) FROM instances i WHERE i.series_instance_uid = s.series_instance_uid AND i.seq > s.jobbed_seq) AS n
         FROM series s WHERE s.last_seq > s.jobbed_seq AND s.last_instance_at <= ?`,
      )
      .all(quietSince) as { uid: string; modality: string; n: number }[];
    return rows.map((r) => ({ seriesInstanceUID: r.uid, modality: r.modality, newInstances: r.n }));
  }

  createJob(job: NewJob, now: number): JobRecord | null {
    const created = this.db.transaction((): boolean => {
      const s = this.db
        .prepare('SELECT study_instance_uid, last_seq, jobbed_seq, versions FROM series WHERE series_instance_uid = ?')
        .get(job.seriesInstanceUID) as { study_instance_uid: string; last_seq: number; jobbed_seq: number; versions: number } | undefined;
      if (s === undefined) return false;
      let cutoff = s.last_seq;
      if (job.kind === 'auto') {
        if (s.last_seq <= s.jobbed_seq) return false;
      } else {
        const parent = job.parentJobId === null ? undefined : this.db
          .prepare('SELECT instance_cutoff_seq FROM jobs WHERE id = ?')
          .get(job.parentJobId) as { instance_cutoff_seq: number } | undefined;
        if (parent === undefined) return false;
        cutoff = parent.instance_cutoff_seq;
      }
      const version = s.versions + 1;
      this.db
        .prepare(
          `INSERT INTO jobs (id, series_instance_uid, study_instance_uid, version, kind, parent_job_id, override_sop_instance_uid,
             state, created_at, finished_at, instance_cutoff_seq, output_ids, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        )
        .run(job.id, job.seriesInstanceUID, s.study_instance_uid, version, job.kind, job.parentJobId,
          job.overrideSopInstanceUID, job.skipReason === null ? 'queued' : 'skipped', now,
          job.skipReason === null ? null : now, cutoff, JSON.stringify(job.outputIds), job.skipReason);
      this.db
        .prepare('UPDATE series SET versions = ?, jobbed_seq = MAX(jobbed_seq, ?) WHERE series_instance_uid = ?')
        .run(version, cutoff, job.seriesInstanceUID);
      return true;
    })();
    return created ? this.getJob(job.id) : null;
  }

  private toRecord(r: JobRow): JobRecord {
    const stages = (this.db
      .prepare('SELECT stage, started_at, duration_ms, ok, detail FROM job_stages WHERE job_id = ? ORDER BY rowid')
      .all(r.id) as { stage: string; started_at: number; duration_ms: number; ok: number; detail: string | null }[])
      .map((s) => ({ stage: s.stage, startedAt: s.started_at, durationMs: s.duration_ms, ok: s.ok === 1, detail: s.detail }));
    const outputs = (this.db
      .prepare('SELECT kind, relative_path, sop_instance_uid FROM job_outputs WHERE job_id = ? ORDER BY rowid')
      .all(r.id) as { kind: JobOutput['kind']; relative_path: string; sop_instance_uid: string | null }[])
      .map((o) => ({ kind: o.kind, relativePath: o.relative_path, sopInstanceUID: o.sop_instance_uid }));
    const count = this.db
      .prepare('SELECT COUNT(*) AS n FROM instances WHERE series_instance_uid = ? AND seq <= ?')
      .get(r.series_instance_uid, r.instance_cutoff_seq) as { n: number };
    return {
      id: r.id,
      studyInstanceUID: r.study_instance_uid,
      seriesInstanceUID: r.series_instance_uid,
      version: r.version,
      kind: r.kind as JobRecord['kind'],
      parentJobId: r.parent_job_id,
      overrideSopInstanceUID: r.override_sop_instance_uid,
      state: r.state as JobState,
      attempts: r.attempts,
      createdAt: r.created_at,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      instanceCount: count.n,
      outputIds: JSON.parse(r.output_ids) as JobRecord['outputIds'],
      stages,
      outputs,
      outcome: r.outcome as JobRecord['outcome'],
      reason: r.reason,
      warnings: JSON.parse(r.warnings) as string[],
      patientKey: r.patient_key,
    };
  }

  getJob(id: string): JobRecord | null {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return r === undefined ? null : this.toRecord(r);
  }

  previousDoneJob(seriesInstanceUID: string, beforeVersion: number): JobRecord | null {
    const r = this.db
      .prepare("SELECT * FROM jobs WHERE series_instance_uid = ? AND version < ? AND state = 'done' ORDER BY version DESC LIMIT 1")
      .get(seriesInstanceUID, beforeVersion) as JobRow | undefined;
    return r === undefined ? null : this.toRecord(r);
  }

  listJobs(limit: number, state?: JobState): JobRecord[] {
    const rows = state === undefined
      ? this.db.prepare('SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit)
      : this.db.prepare('SELECT * FROM jobs WHERE state = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(state, limit);
    return (rows as JobRow[]).map((r) => this.toRecord(r));
  }

  jobInstances(jobId: string): JobInstance[] {
    return (this.db
      .prepare(
        `SELECT i.sop_instance_uid AS sop, i.path AS path FROM instances i JOIN jobs j ON j.series_instance_uid = i.series_instance_uid
         WHERE j.id = ? AND i.seq <= j.instance_cutoff_seq ORDER BY i.seq`,
      )
      .all(jobId) as { sop: string; path: string }[]).map((r) => ({ sopInstanceUID: r.sop, path: r.path }));
  }

  claimNextJob(now: number): JobRecord | null {
    const id = this.db.transaction((): string | null => {
      const r = this.db
        .prepare("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at, rowid LIMIT 1")
        .get() as { id: string } | undefined;
      if (r === undefined) return null;
      this.db
        .prepare("UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ? WHERE id = ?")
        .run(now, r.id);
      return r.id;
    })();
    return id === null ? null : this.getJob(id);
  }

  requeueInterrupted(): number {
    return this.db.prepare("UPDATE jobs SET state = 'queued' WHERE state = 'running'").run().changes;
  }

  releaseForShutdown(jobId: string): void {
    this.db.prepare("UPDATE jobs SET state = 'queued', attempts = MAX(0, attempts - 1) WHERE id = ? AND state = 'running'").run(jobId);
  }

  recordStage(jobId: string, t: StageTiming): void {
    this.db
      .prepare('INSERT INTO job_stages (job_id, stage, started_at, duration_ms, ok, detail) VALUES (?,?,?,?,?,?)')
      .run(jobId, t.stage, t.startedAt, t.durationMs, t.ok ? 1 : 0, t.detail);
  }

  clearStages(jobId: string): void {
    this.db.prepare('DELETE FROM job_stages WHERE job_id = ?').run(jobId);
  }

  setPatientKey(jobId: string, patientKey: string): void {
    this.db.prepare('UPDATE jobs SET patient_key = ? WHERE id = ?').run(patientKey, jobId);
  }

  addOutput(jobId: string, o: JobOutput): void {
    this.db
      .prepare('INSERT OR REPLACE INTO job_outputs (job_id, kind, relative_path, sop_instance_uid) VALUES (?,?,?,?)')
      .run(jobId, o.kind, o.relativePath, o.sopInstanceUID);
  }

  finishJob(
    jobId: string,
    f: { outcome: 'measured' | 'not-assessable'; reason: string | null; warnings: string[]; resultJson: string },
    now: number,
  ): void {
    this.db
      .prepare(
        "UPDATE jobs SET state = 'done', outcome = ?, reason = ?, warnings = ?, result_json = ?, finished_at = ? WHERE id = ?",
      )
      .run(f.outcome, f.reason, JSON.stringify(f.warnings), f.resultJson, now, jobId);
  }

  failJob(jobId: string, reason: string, now: number): void {
    this.db.prepare("UPDATE jobs SET state = 'failed', reason = ?, finished_at = ? WHERE id = ?").run(reason, now, jobId);
  }

  resultJson(jobId: string): string | null {
    const r = this.db.prepare('SELECT result_json FROM jobs WHERE id = ?').get(jobId) as { result_json: string | null } | undefined;
    return r?.result_json ?? null;
  }

  counts(): Record<JobState, number> {
    const out: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0, skipped: 0 };
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as { state: JobState; n: number }[]) {
      out[r.state] = r.n;
    }
    return out;
  }

  enqueueDelivery(jobId: string, channel: DeliveryChannel, relativePaths: string[], now: number): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO deliveries (job_id, channel, relative_paths, state, next_attempt_at, created_at)
         VALUES (?,?,?,'pending',?,?)`,
      )
      .run(jobId, channel, JSON.stringify(relativePaths), now, now);
  }

  private toDelivery(r: DeliveryRow): DeliveryRecord {
    return {
      id: r.id,
      jobId: r.job_id,
      channel: r.channel as DeliveryChannel,
      relativePaths: JSON.parse(r.relative_paths) as string[],
      state: r.state as DeliveryState,
      attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at,
      lastAttemptAt: r.last_attempt_at,
      lastDetail: r.last_detail,
      ackCode: r.ack_code,
      createdAt: r.created_at,
      deliveredAt: r.delivered_at,
    };
  }

  dueDeliveries(now: number, limit: number): DeliveryRecord[] {
    return (this.db
      .prepare("SELECT * FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?")
      .all(now, limit) as DeliveryRow[]).map((r) => this.toDelivery(r));
  }

  recordDeliveryAttempt(
    id: number,
    a: { state: DeliveryState; detail: string; ackCode: string | null; nextAttemptAt: number },
    now: number,
  ): void {
    this.db
      .prepare(
        `UPDATE deliveries SET state = ?, attempts = attempts + 1, last_attempt_at = ?, last_detail = ?, ack_code = ?,
           next_attempt_at = ?, delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END WHERE id = ?`,
      )
      .run(a.state, now, a.detail, a.ackCode, a.nextAttemptAt, a.state, now, id);
  }

  deliveriesForJob(jobId: string): DeliveryRecord[] {
    return (this.db.prepare('SELECT * FROM deliveries WHERE job_id = ? ORDER BY id').all(jobId) as DeliveryRow[])
      .map((r) => this.toDelivery(r));
  }

  pendingDeliveryCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending'").get() as { n: number }).n;
  }

  putClinical(patientKey: string, recordJson: string, now: number): void {
    this.db
      .prepare(
        `INSERT INTO clinical (patient_key, record_json, updated_at) VALUES (?,?,?)
         ON CONFLICT(patient_key) DO UPDATE SET record_json = excluded.record_json, updated_at = excluded.updated_at`,
      )
      .run(patientKey, recordJson, now);
  }

  getClinical(patientKey: string): { recordJson: string; updatedAt: number } | null {
    const r = this.db.prepare('SELECT record_json, updated_at FROM clinical WHERE patient_key = ?').get(patientKey) as
      | { record_json: string; updated_at: number }
      | undefined;
    return r === undefined ? null : { recordJson: r.record_json, updatedAt: r.updated_at };
  }

  close(): void {
    this.db.close();
  }
}
