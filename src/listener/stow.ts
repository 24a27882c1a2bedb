import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { BonemetConfig } from '../config/schema.ts';
import type { IngestSink } from '../jobs/ingest-sink.ts';
import { acceptIncomingFile, type AcceptContext, type AcceptOutcome } from './accept-instance.ts';
import { MultipartError, MultipartRelatedSplitter, parseMediaType } from './multipart-related.ts';
import { IncomingFileWriter } from './incoming-file.ts';
import { prepareSpool } from './spool.ts';
import { isValidUid, STATUS, type InstanceRefusal } from './validate-instance.ts';

/**
 * DICOMweb STOW-RS receiver (PS3.18 10.5): POST /studies and /studies/{StudyInstanceUID} (mount under
 * /dicomweb). The multipart/related body streams into one spool file per part while the byte limit
 * (config.http.maxStowBytes) is enforced; each part then takes the same validate -> durable spool ->
 * job-store path as a C-STORE. Answers the standard Store Instances Response (application/dicom+json):
 * 200 all stored, 202 some failed, 409 none stored, 400 malformed multipart, 413 too big, 415 wrong type.
 */

export interface StowDeps {
  config: BonemetConfig;
  sink: IngestSink;
  logger: Logger;
}

class BodyTooLargeError extends Error {}

/** Parts validated and committed concurrently per request. */
const PARALLEL_COMMITS = 8;

/** Passes bytes through until more than maxBytes have been seen, then fails the pipeline. */
function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new BodyTooLargeError(`STOW body exceeds http.maxStowBytes (${maxBytes} bytes)`));
      else callback(null, chunk);
    },
  });
}

type PartResult =
  | { ok: true; sopClassUID: string; sopInstanceUID: string }
  | { ok: false; sopClassUID: string; sopInstanceUID: string; status: number; detail: string };

/** DICOM JSON (PS3.18 F.2) Store Instances Response. */
function storeResponse(results: PartResult[]): Record<string, unknown> {
  const uid = (v: string): Record<string, unknown> => (v ? { vr: 'UI', Value: [v] } : { vr: 'UI' });
  const body: Record<string, unknown> = {};
  const failed = results.filter((r) => !r.ok);
  const stored = results.filter((r) => r.ok);
  if (failed.length > 0) {
    body['00081198'] = {
      vr: 'SQ',
      Value: failed.map((r) => ({
        '00081150': uid(r.sopClassUID),
        '00081155': uid(r.sopInstanceUID),
        '00081197': { vr: 'US', Value: [r.ok ? 0 : r.status] },
        // Not part of the STOW response IOD, but the one place a client can read WHY (TextValue, LT).
        '0040A160': { vr: 'LT', Value: [r.ok ? '' : r.detail] },
      })),
    };
  }
  if (stored.length > 0) {
    body['00081199'] = {
      vr: 'SQ',
      Value: stored.map((r) => ({ '00081150': uid(r.sopClassUID), '00081155': uid(r.sopInstanceUID) })),
    };
  }
  return body;
}

function sendError(res: Response, status: number, message: string, closeConnection = false): void {
  if (res.headersSent) return;
  if (closeConnection) res.setHeader('Connection', 'close');
  res.status(status).json({ error: message });
}

function failedFromRefusal(refusal: InstanceRefusal): PartResult {
  return { ok: false, sopClassUID: refusal.sopClassUID, sopInstanceUID: refusal.sopInstanceUID, status: refusal.status, detail: refusal.detail };
}

export function createStowRouter(deps: StowDeps): express.Router {
  const { config, sink } = deps;
  const log = deps.logger.child({ component: 'stow-rs' });
  const acceptCtx: AcceptContext = { dataDir: config.dataDir, sink, logger: log };
  const maxBytes = config.http.maxStowBytes;
  const router = express.Router();

  const acceptPart = async (headers: Record<string, string>, index: number, writer: IncomingFileWriter, studyInUrl: string | undefined): Promise<PartResult> => {
    const partType = parseMediaType(headers['content-type']);
    if (partType && partType.mediaType !== 'application/dicom') {
      await writer.discard();
      return { ok: false, sopClassUID: '', sopInstanceUID: '', status: STATUS.cannotUnderstand, detail: `part ${index + 1} is ${partType.mediaType}, not application/dicom` };
    }
    const taken = writer.takeOver();
    const outcome: AcceptOutcome = await acceptIncomingFile(
      acceptCtx,
      { path: taken.path, fd: taken.fd, bytes: taken.bytes, onDisk: taken.onDisk, writeError: taken.error },
      { receivedVia: 'stow', callingAeTitle: null },
      studyInUrl === undefined ? {} : { studyInstanceUID: studyInUrl },
    );
    return outcome.stored
      ? { ok: true, sopClassUID: outcome.instance.sopClassUID, sopInstanceUID: outcome.instance.sopInstanceUID }
      : failedFromRefusal(outcome.refusal);
  };

  const handle = async (req: Request, res: Response, studyInUrl: string | undefined): Promise<void> => {
    if (studyInUrl !== undefined && !isValidUid(studyInUrl)) {
      sendError(res, 400, 'StudyInstanceUID in the URL is not a valid UID');
      return;
    }
    const contentType = parseMediaType(req.headers['content-type']);
    if (!contentType || contentType.mediaType !== 'multipart/related') {
      sendError(res, 415, 'STOW-RS needs Content-Type: multipart/related; type="application/dicom"; boundary=...');
      return;
    }
    const rootType = contentType.params.type?.toLowerCase();
    if (rootType !== undefined && rootType !== 'application/dicom') {
      sendError(res, 415, `multipart/related type "${rootType}" not supported: only application/dicom (Part 10 instances)`);
      return;
    }
    const boundary = contentType.params.boundary;
    if (!boundary) {
      sendError(res, 400, 'multipart/related Content-Type has no boundary parameter');
      return;
    }
    const declaredLength = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declaredLength) && declaredLength > maxBytes) {
      // Connection: close makes Node end the socket after the answer instead of reading the body.
      sendError(res, 413, `STOW body of ${declaredLength} bytes exceeds http.maxStowBytes (${maxBytes})`, true);
      return;
    }
    // The spool dirs must exist before a part file is opened (once per process it also empties
    // .incoming, which holds nothing acknowledged).
    await prepareSpool(config.dataDir);

    const partFiles: IncomingFileWriter[] = [];
    const splitter = new MultipartRelatedSplitter(boundary, (): Writable => {
      const writer = new IncomingFileWriter(config.dataDir, { memoryLimit: 0, keepFdOpen: false });
      partFiles.push(writer);
      return writer;
    });
    try {
      await pipeline(req, byteLimit(maxBytes), splitter);
    } catch (err) {
      await Promise.all(partFiles.map((w) => w.discard().catch(() => undefined)));
      if (err instanceof BodyTooLargeError) {
        log.warn({ maxBytes }, 'STOW body refused: too large');
        // Connection: close: the rest of the body is not read; Node closes the socket after the answer.
        sendError(res, 413, err.message, true);
      } else if (err instanceof MultipartError) {
        log.warn({ err: err.message }, 'STOW body refused: malformed multipart');
        sendError(res, 400, `malformed multipart/related body: ${err.message}`);
      } else if (['ENOSPC', 'EMFILE', 'ENFILE', 'EIO', 'EACCES', 'EROFS'].includes((err as NodeJS.ErrnoException).code ?? '')) {
        log.error({ err: (err as Error).message }, 'STOW body could not be spooled');
        sendError(res, 503, 'the spool is not writable right now; retry later');
      } else {
        log.warn({ err: (err as Error).message }, 'STOW body not fully received (client went away?)');
        sendError(res, 400, 'request body could not be read completely');
      }
      return;
    }
    if (splitter.parts.length === 0) {
      sendError(res, 400, 'multipart/related body contains no parts');
      return;
    }

    // Parts are independent: committing several at once lets their fsyncs share journal commits
    // (sequential commits are bounded by ~2 fsync latencies per instance).
    const results: PartResult[] = new Array<PartResult>(splitter.parts.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < splitter.parts.length; i = next++) {
        const part = splitter.parts[i];
        const writer = partFiles[i];
        if (part === undefined || writer === undefined) continue;
        results[i] = await acceptPart(part.headers, i, writer, studyInUrl);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_COMMITS, splitter.parts.length) }, worker));

    const storedCount = results.filter((r) => r.ok).length;
    const httpStatus = storedCount === results.length ? 200 : storedCount === 0 ? 409 : 202;
    log.info({ parts: results.length, stored: storedCount, failed: results.length - storedCount, httpStatus }, 'STOW-RS request handled');
    res.status(httpStatus).type('application/dicom+json').send(JSON.stringify(storeResponse(results)));
  };

  const route = (req: Request, res: Response): void => {
    const study = typeof req.params.studyUID === 'string' ? req.params.studyUID : undefined;
    handle(req, res, study).catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'STOW-RS handler failed');
      sendError(res, 500, 'internal error while storing');
    });
  };
  router.post('/studies', route);
  router.post('/studies/:studyUID', route);
  return router;
}
