import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { Writable } from 'node:stream';
import dimse from 'dcmjs-dimse';
import type { Logger } from 'pino';
import type { BonemetConfig } from '../config/schema.ts';
import type { IngestSink } from '../jobs/ingest-sink.ts';
import { acceptIncomingFile, type AcceptContext } from './accept-instance.ts';
import { decidePresentationContext, isCallingAeAllowed, normaliseAeTitle } from './negotiation.ts';
import { quietDimseLibraries } from './dimse-logging.ts';
import { buildPart10Header } from './part10-header.ts';
import { IncomingFileWriter } from './incoming-file.ts';
import { prepareSpool } from './spool.ts';
import { ACCEPTED_SOP_CLASSES, STATUS } from './validate-instance.ts';

/**
 * DICOM C-STORE / C-ECHO SCP (dcmjs-dimse 0.3.3). Each data set is streamed straight to a file in the
 * spool's .incoming dir (never buffered whole in memory), prefixed with a Part 10 header in the accepted
 * transfer syntax, validated, made durable, handed to the job layer, and only then answered with Success.
 */

const { Server, Scp, Dataset, constants, responses } = dimse;
const { CEchoResponse, CStoreResponse } = responses;
const { PresentationContextResult, RejectResult, RejectSource, RejectReason } = constants;

type Association = dimse.association.Association;
type PresentationContext = dimse.association.PresentationContext;
type CStoreRequest = dimse.requests.CStoreRequest;
type CEchoRequest = dimse.requests.CEchoRequest;
type CStoreResponseT = dimse.responses.CStoreResponse;
type CEchoResponseT = dimse.responses.CEchoResponse;

export interface DimseListener {
  /** Stops accepting, drops open associations, waits for in-flight spool writes. */
  close(): Promise<void>;
  /** The port actually listened on (config.dimse.port, or the OS's pick when that is 0). */
  port: number;
}

/** How one incoming C-STORE data set is being received. */
type Receipt =
  | { kind: 'refuse-class'; sopClassUID: string }
  | { kind: 'unwritable'; error: Error }
  | { kind: 'file'; writer: IncomingFileWriter; handedOver: boolean };

const PROCESSING_FAILURE = 0x0110;

export async function startDimseListener(config: BonemetConfig, sink: IngestSink, logger: Logger): Promise<DimseListener> {
  const log = logger.child({ component: 'dimse-scp' });
  quietDimseLibraries();
  await prepareSpool(config.dataDir);
  const acceptCtx: AcceptContext = { dataDir: config.dataDir, sink, logger: log };
  const ownAeTitle = normaliseAeTitle(config.dimse.aeTitle);
  const allowed = config.dimse.allowedCallingAeTitles;
  if (allowed.length === 0) log.warn('dimse.allowedCallingAeTitles is empty: any calling AE may store');
  const inFlight = new Set<Promise<unknown>>();

  class BonemetScp extends Scp {
    private callingAeTitle = '';
    private readonly receipts = new Map<CStoreRequest, Receipt>();
    private stored = 0;
    private refused = 0;

    constructor(socket: Socket, opts?: ConstructorParameters<typeof Scp>[1]) {
      super(socket, opts);
      // A transfer cut off mid-data-set (peer crash, network drop) leaves an .incoming file nobody acknowledged.
      socket.once('close', () => this.discardUnfinished());
    }

    /** dcmjs-dimse keeps the association's socket in an untyped field. */
    private get assocSocket(): Socket | undefined {
      return (this as unknown as { socket?: Socket }).socket;
    }

    private get peer(): string {
      const socket = this.assocSocket;
      return socket ? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` : '?';
    }

    override associationRequested(association: Association): void {
      // dcmjs-dimse's Network reads this.association when sending (its typings omit the field).
      (this as unknown as { association: Association }).association = association;
      this.callingAeTitle = normaliseAeTitle(association.getCallingAeTitle());
      const called = normaliseAeTitle(association.getCalledAeTitle());
      if (!isCallingAeAllowed(this.callingAeTitle, allowed)) {
        log.warn({ callingAe: this.callingAeTitle, peer: this.peer }, 'association rejected: calling AE title not in dimse.allowedCallingAeTitles');
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized);
        return;
      }
      if (called !== ownAeTitle) {
        log.warn({ callingAe: this.callingAeTitle, calledAe: called, peer: this.peer }, `association rejected: called AE title is not ${ownAeTitle}`);
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
        return;
      }
      association.setMaxPduLength(config.dimse.maxPduLength);
      let accepted = 0;
      for (const { id } of association.getPresentationContexts()) {
        const context = association.getPresentationContext(id);
        const decision = decidePresentationContext(context.getAbstractSyntaxUid(), context.getTransferSyntaxUids());
        if (decision.accept) {
          context.setResult(PresentationContextResult.Accept, decision.transferSyntaxUID);
          accepted++;
        } else {
          context.setResult(
            decision.why === 'abstract-syntax-not-supported'
              ? PresentationContextResult.RejectAbstractSyntaxNotSupported
              : PresentationContextResult.RejectTransferSyntaxesNotSupported,
          );
        }
      }
      log.info({ callingAe: this.callingAeTitle, peer: this.peer, acceptedContexts: accepted }, 'association accepted');
      this.sendAssociationAccept();
    }

    override associationReleaseRequested(): void {
      log.info({ callingAe: this.callingAeTitle, stored: this.stored, refused: this.refused }, 'association released');
      this.sendAssociationReleaseResponse();
    }

    override abort(source: number, reason: number): void {
      log.warn({ callingAe: this.callingAeTitle, source, reason, stored: this.stored }, 'association aborted by peer');
      this.discardUnfinished();
      this.assocSocket?.end();
    }

    override cEchoRequest(request: CEchoRequest, callback: (response: CEchoResponseT) => void): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(STATUS.success);
      callback(response);
    }

    override createStoreWritableStream(context: PresentationContext, request: CStoreRequest): Writable {
      const sopClassUID = request.getAffectedSopClassUid();
      if (!ACCEPTED_SOP_CLASSES.has(sopClassUID)) {
        // Known from the command alone: no need to put the MR/SR bytes on disk before refusing.
        this.receipts.set(request, { kind: 'refuse-class', sopClassUID });
        return new Writable({ write: (_chunk, _enc, done) => done() });
      }
      let writer: IncomingFileWriter;
      try {
        writer = new IncomingFileWriter(config.dataDir);
      } catch (err) {
        // Could not even create the file (disk full, permissions): swallow the data, answer A700.
        this.receipts.set(request, { kind: 'unwritable', error: err as Error });
        return new Writable({ write: (_chunk, _enc, done) => done() });
      }
      const receipt: Receipt = { kind: 'file', writer, handedOver: false };
      this.receipts.set(request, receipt);
      writer.write(
        buildPart10Header({
          sopClassUID,
          sopInstanceUID: request.getAffectedSopInstanceUid(),
          transferSyntaxUID: context.getAcceptedTransferSyntaxUid() ?? '',
          sourceAeTitle: this.callingAeTitle,
        }),
      );
      // dcmjs-dimse waits for 'drain' only after the first fragment, so a disk slower than the network
      // would pile the data set up in memory. Pausing the socket while the file is behind pushes back
      // on the sender through TCP instead. Node emits no 'drain' once a stream is ending, so 'finish'
      // resumes the socket too. The returned stream never emits 'error' (dcmjs-dimse does not listen
      // for it): a write failure is recorded on the writer and answered with A700.
      const socket = this.assocSocket;
      const resume = (): void => {
        if (socket?.isPaused()) socket.resume();
      };
      writer.once('finish', resume);
      return new Writable({
        highWaterMark: 1024 * 1024,
        write(chunk: Buffer, _encoding, done) {
          if (!writer.write(chunk) && socket && !socket.isPaused()) {
            socket.pause();
            writer.once('drain', resume);
          }
          done();
        },
        final(done) {
          writer.once('finish', () => done());
          writer.end();
        },
      });
    }

    override createDatasetFromStoreWritableStream(
      writable: Writable,
      context: PresentationContext,
      callback: (dataset: dimse.Dataset) => void,
    ): void {
      // The data set stays on disk; the C-STORE handler finds it through the request's receipt.
      const done = (): void => callback(new Dataset({}, context.getAcceptedTransferSyntaxUid()));
      if (writable.writableFinished) done();
      else writable.once('finish', done);
    }

    override cStoreRequest(request: CStoreRequest, callback: (response: CStoreResponseT) => void): void {
      const work = this.handleStore(request)
        .catch((err: unknown) => {
          log.error({ err: (err as Error).message }, 'unexpected C-STORE handling failure');
          return { status: PROCESSING_FAILURE, comment: 'internal processing failure' };
        })
        .then(({ status, comment }) => {
          const response = CStoreResponse.fromRequest(request);
          response.setStatus(status);
          if (status !== STATUS.success && comment) response.setErrorComment(comment);
          if (status === STATUS.success) this.stored++;
          else this.refused++;
          callback(response);
        });
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    }

    private async handleStore(request: CStoreRequest): Promise<{ status: number; comment: string }> {
      const receipt = this.receipts.get(request);
      this.receipts.delete(request);
      if (!receipt) return { status: PROCESSING_FAILURE, comment: 'no data set received' };
      if (receipt.kind === 'refuse-class') {
        log.warn({ callingAe: this.callingAeTitle, sopClassUID: receipt.sopClassUID, status: '0x0122' }, 'instance refused: SOP class not supported');
        return { status: STATUS.sopClassNotSupported, comment: `SOP class ${receipt.sopClassUID} not supported: CT only`.slice(0, 64) };
      }
      if (receipt.kind === 'unwritable') {
        log.error({ err: receipt.error.message }, 'could not create an incoming spool file');
        return { status: STATUS.outOfResources, comment: 'could not write to the spool (disk?)' };
      }
      receipt.handedOver = true;
      const taken = receipt.writer.takeOver();
      const outcome = await acceptIncomingFile(
        acceptCtx,
        { path: taken.path, fd: taken.fd, bytes: taken.bytes, onDisk: taken.onDisk, writeError: taken.error },
        { receivedVia: 'dimse', callingAeTitle: this.callingAeTitle || null },
        { sopClassUID: request.getAffectedSopClassUid(), sopInstanceUID: request.getAffectedSopInstanceUid() },
      );
      return outcome.stored ? { status: STATUS.success, comment: '' } : { status: outcome.refusal.status, comment: outcome.refusal.detail };
    }

    private discardUnfinished(): void {
      for (const [request, receipt] of this.receipts) {
        if (receipt.kind === 'file' && !receipt.handedOver) void receipt.writer.discard().catch(() => undefined);
        this.receipts.delete(request);
      }
    }
  }

  const server = new Server(BonemetScp as unknown as typeof Scp);
  server.on('networkError', (err: Error) => {
    // Per-connection problems (peer reset, timeout): the server keeps serving other associations.
    log.warn({ err: err.message }, 'DICOM network error');
  });
  const netServer = await new Promise<NetServer>((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`DICOM listener could not listen on port ${config.dimse.port}: ${err.message}`));
    server.once('networkError', onError);
    server.once('listening', () => {
      server.off('networkError', onError);
      resolve((server as unknown as { server: NetServer }).server);
    });
    // dcmjs-dimse's listen() takes no host: it binds all interfaces (platform notes §3).
    server.listen(config.dimse.port);
  });
  const port = (netServer.address() as AddressInfo).port;
  log.info({ port, aeTitle: ownAeTitle }, 'DICOM C-STORE SCP listening on all interfaces');

  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => netServer.close(() => resolve()));
      server.close(); // also destroys open association sockets
      await closed.catch(() => undefined);
      await Promise.allSettled([...inFlight]);
      log.info('DICOM listener closed');
    },
  };
}
