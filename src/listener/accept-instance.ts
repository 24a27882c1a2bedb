import fs from 'node:fs';
import type { Logger } from 'pino';
import type { IngestSink, StoredInstance } from '../jobs/ingest-sink.ts';
import { pagedSource } from './byte-source.ts';
import { commitIncoming, discardIncoming, flushIncoming } from './spool.ts';
import { STATUS, validateInstance, type ExpectedIdentity, type InstanceRefusal } from './validate-instance.ts';

/**
 * The one path every received instance takes, whatever the transport (C-STORE or STOW-RS):
 * validate the fully received .incoming file, make it durable in the spool, then tell the job layer.
 * Only after this resolves with `stored` may the transport acknowledge success.
 */

export interface AcceptContext {
  dataDir: string;
  sink: IngestSink;
  logger: Logger;
}

export interface Provenance {
  receivedVia: StoredInstance['receivedVia'];
  callingAeTitle: string | null;
}

export type AcceptOutcome = { stored: true; instance: StoredInstance } | { stored: false; refusal: InstanceRefusal };

function outOfResources(detail: string, ids: { sopClassUID: string; sopInstanceUID: string }): InstanceRefusal {
  return { ok: false, reason: 'out-of-resources', status: STATUS.outOfResources, detail, ...ids };
}

/** Files up to this size are read whole; larger ones through a paged reader (header + element headers only). */
const WHOLE_READ_LIMIT = 4 * 1024 * 1024;

async function validateFile(filePath: string, expected: ExpectedIdentity): Promise<ReturnType<typeof validateInstance>> {
  const handle = await fs.promises.open(filePath, 'r');
  try {
    const { size } = await handle.stat();
    if (size <= WHOLE_READ_LIMIT) return validateInstance(await handle.readFile(), expected);
    // Synchronous page reads (64 kB, from the page cache right after writing) keep the walker simple.
    const source = pagedSource(size, (target, position) => fs.readSync(handle.fd, target, 0, target.byteLength, position));
    return validateInstance(source, expected);
  } finally {
    await handle.close();
  }
}

/** A fully received instance in .incoming, as handed over by the transport. */
export interface IncomingInstance {
  path: string;
  /** Still-open descriptor of `path` (flushed and closed here), or null to re-open by path. */
  fd?: number | null;
  /** The complete file content when the transport kept it (small instances), else read from disk. */
  bytes?: Buffer | null;
  /** False when `bytes` has not been written to the file yet (written here, with `fd`). */
  onDisk?: boolean;
  /** A write failure while receiving: the instance is refused as out of resources. */
  writeError?: Error | null;
}

/** Optionally writes `bytes` at offset 0, then fdatasync + close (the fd is closed in every case). */
function writeFlushClose(fd: number, bytes: Buffer | null): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const finish = (err: Error | null): void => {
      fs.close(fd, (closeErr) => {
        const e = err ?? closeErr;
        if (e) reject(e);
        else resolve();
      });
    };
    const sync = (): void => fs.fdatasync(fd, (err) => finish(err));
    if (!bytes) return sync();
    const writeFrom = (offset: number): void => {
      fs.write(fd, bytes, offset, bytes.length - offset, offset, (err, written) => {
        if (err) return finish(err);
        if (offset + written < bytes.length) return writeFrom(offset + written);
        sync();
      });
    };
    writeFrom(0);
  });
}

export async function acceptIncomingFile(
  ctx: AcceptContext,
  incoming: IncomingInstance | string,
  provenance: Provenance,
  expected: ExpectedIdentity = {},
): Promise<AcceptOutcome> {
  const { path: incomingPath, fd = null, bytes = null, onDisk = true, writeError = null } =
    typeof incoming === 'string' ? { path: incoming } : incoming;
  if (!onDisk && (fd === null || bytes === null)) throw new Error('acceptIncomingFile: content not on disk needs fd and bytes');
  // Writing/flushing runs on the thread pool while this thread validates: the two together cost about
  // max(flush, validate) instead of their sum per instance.
  const flushed = (fd !== null ? writeFlushClose(fd, onDisk ? null : bytes) : flushIncoming(incomingPath)).then(
    () => null,
    (err: unknown) => err as Error,
  );
  if (writeError) {
    await flushed;
    await discardIncoming(incomingPath).catch(() => undefined);
    ctx.logger.error({ err: writeError.message }, 'could not write incoming data set');
    return { stored: false, refusal: outOfResources('could not write to the spool (disk?)', { sopClassUID: '', sopInstanceUID: '' }) };
  }
  let verdict: ReturnType<typeof validateInstance>;
  try {
    verdict = bytes ? validateInstance(bytes, expected) : await validateFile(incomingPath, expected);
  } catch (err) {
    await flushed;
    await discardIncoming(incomingPath).catch(() => undefined);
    ctx.logger.error({ err: (err as Error).message }, 'could not read back a received instance');
    return { stored: false, refusal: outOfResources('could not read received data back', { sopClassUID: '', sopInstanceUID: '' }) };
  }
  const flushError = await flushed;
  if (!verdict.ok) {
    await discardIncoming(incomingPath);
    ctx.logger.warn(
      { via: provenance.receivedVia, callingAe: provenance.callingAeTitle, reason: verdict.reason, status: `0x${verdict.status.toString(16).padStart(4, '0')}`, detail: verdict.detail, sopInstanceUID: verdict.sopInstanceUID || undefined },
      'instance refused',
    );
    return { stored: false, refusal: verdict };
  }
  const ids = { sopClassUID: verdict.sopClassUID, sopInstanceUID: verdict.sopInstanceUID };
  let finalPath: string;
  try {
    if (flushError) throw flushError;
    finalPath = await commitIncoming(ctx.dataDir, incomingPath, verdict, true);
  } catch (err) {
    await discardIncoming(incomingPath).catch(() => undefined);
    ctx.logger.error({ err: (err as Error).message, sopInstanceUID: verdict.sopInstanceUID }, 'could not write instance to the spool');
    return { stored: false, refusal: outOfResources('could not write to the spool (disk?)', ids) };
  }
  const instance: StoredInstance = {
    studyInstanceUID: verdict.studyInstanceUID,
    seriesInstanceUID: verdict.seriesInstanceUID,
    sopInstanceUID: verdict.sopInstanceUID,
    sopClassUID: verdict.sopClassUID,
    modality: verdict.modality,
    path: finalPath,
    callingAeTitle: provenance.callingAeTitle,
    receivedVia: provenance.receivedVia,
  };
  try {
    ctx.sink.instanceStored(instance);
  } catch (err) {
    // The file is durable but unrecorded: answer failure so the sender retries (a re-send is idempotent).
    ctx.logger.error({ err: (err as Error).message, sopInstanceUID: verdict.sopInstanceUID }, 'job store did not record the instance');
    return { stored: false, refusal: outOfResources('could not record the instance', ids) };
  }
  ctx.logger.debug({ via: provenance.receivedVia, sopInstanceUID: verdict.sopInstanceUID }, 'instance stored');
  return { stored: true, instance };
}
