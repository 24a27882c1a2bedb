import dimse from 'dcmjs-dimse';
import type { DimseDestination } from '../config/schema.ts';
import { quietDimseLibraries } from '../listener/dimse-logging.ts';
import type { DeliveryOutcome } from './types.ts';

/**
 * C-STORE SCU (dcmjs-dimse Client): sends Part 10 files in one association and maps the peer's answer
 * to a DeliveryOutcome. Success and Warning (Bxxx) statuses count as delivered; "Out of resources"
 * (A7xx) and every network/association problem as retry (a re-send is idempotent at the PACS); any
 * other failure status (A9xx, Cxxx, 0122, ...) as rejected, with the statuses in the detail.
 */

const { Client, requests, constants } = dimse;

export interface CStoreSendOptions {
  /** Upper bound for the whole association; after it the attempt counts as retry. */
  overallTimeoutMs?: number;
  connectTimeoutMs?: number;
}

type StatusClass = 'ok' | 'transient' | 'permanent';

function classify(status: number): StatusClass {
  if (status === 0x0000 || (status & 0xf000) === 0xb000) return 'ok';
  if ((status & 0xff00) === 0xa700) return 'transient';
  return 'permanent';
}

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

export async function sendByCStore(
  dest: DimseDestination,
  callingAeTitle: string,
  files: string[],
  options: CStoreSendOptions = {},
): Promise<DeliveryOutcome> {
  if (files.length === 0) return { status: 'delivered', detail: 'nothing to send' };
  quietDimseLibraries();
  const overallTimeoutMs = options.overallTimeoutMs ?? 10 * 60_000;
  return await new Promise<DeliveryOutcome>((resolve) => {
    const client = new Client();
    const answers: Array<{ status: number; comment: string } | undefined> = files.map(() => undefined);
    let settled = false;
    let networkError: string | null = null;
    let associationRejection: { permanent: boolean; text: string } | null = null;
    const storeRequests: dimse.requests.CStoreRequest[] = [];
    /** Files the peer accepted no presentation context for: dcmjs-dimse skips them without an answer. */
    const noContext: boolean[] = files.map(() => false);
    const finish = (outcome: DeliveryOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      try {
        client.abort();
      } catch {
        // not connected yet
      }
      finish({ status: 'retry', detail: `C-STORE to ${dest.aeTitle}@${dest.host}:${dest.port} timed out after ${overallTimeoutMs} ms` });
    }, overallTimeoutMs);

    try {
      files.forEach((file, index) => {
        const request = new requests.CStoreRequest(file);
        storeRequests.push(request);
        request.on('response', (response: dimse.responses.CStoreResponse) => {
          answers[index] = { status: response.getStatus(), comment: response.getErrorComment() ?? '' };
        });
        client.addRequest(request);
      });
    } catch (err) {
      finish({ status: 'rejected', detail: `could not read a file to send: ${(err as Error).message}` });
      return;
    }

    client.on('associationRejected', (reject: { result: number; source: number; reason: number }) => {
      const permanent = reject.result === constants.RejectResult.Permanent;
      associationRejection = {
        permanent,
        text: `association rejected by ${dest.aeTitle} (${permanent ? 'permanent' : 'transient'}, source ${reject.source}, reason ${reject.reason})`,
      };
    });
    client.on('associationAccepted', (association: dimse.association.Association) => {
      storeRequests.forEach((request, i) => {
        if (!association.getAcceptedPresentationContextFromRequest(request)) noContext[i] = true;
      });
    });
    client.on('networkError', (err: Error) => {
      networkError = err.message;
    });
    client.on('closed', () => {
      const where = `${dest.aeTitle}@${dest.host}:${dest.port}`;
      if (associationRejection) {
        // A permanent rejection (unknown calling AE, wrong called AE) is configuration: retrying will not help.
        finish({ status: associationRejection.permanent ? 'rejected' : 'retry', detail: associationRejection.text });
        return;
      }
      const missing = answers.filter((a, i) => a === undefined && !noContext[i]).length;
      // No accepted context = the peer does not take this SOP class / transfer syntax: permanent.
      const classes = answers.map((a, i) => (a === undefined ? (noContext[i] ? 'permanent' : 'transient') : classify(a.status)));
      const failures = answers
        .map((a, i) => {
          const name = files[i]?.split('/').pop();
          if (a === undefined) return noContext[i] ? `${name}: peer accepted no presentation context for it` : null;
          return classify(a.status) !== 'ok' ? `${name}: ${hex(a.status)}${a.comment ? ` ${a.comment}` : ''}` : null;
        })
        .filter((x): x is string => x !== null);
      if (classes.every((c) => c === 'ok')) {
        finish({ status: 'delivered', detail: `${files.length} instance(s) stored at ${where}` });
      } else if (classes.includes('transient')) {
        const why = missing > 0 ? `${missing} of ${files.length} not answered${networkError ? ` (${networkError})` : ''}` : failures.join('; ');
        finish({ status: 'retry', detail: `C-STORE to ${where}: ${why}`.slice(0, 500) });
      } else {
        finish({ status: 'rejected', detail: `C-STORE to ${where} refused: ${failures.join('; ')}`.slice(0, 500) });
      }
    });
    client.send(dest.host, dest.port, callingAeTitle, dest.aeTitle, {
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      associationTimeout: 30_000,
      pduTimeout: 60_000,
    });
  });
}
