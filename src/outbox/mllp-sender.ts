import { Client, Message } from 'node-hl7-client';
import type { DeliveryOutcome } from './types.ts';

/**
 * HL7 v2 over MLLP (node-hl7-client 3.2.0): one connection per message, waits for the ACK.
 * MSA-1 AA/CA -> delivered; AE/AR/CE/CR -> rejected (the receiver looked at it and said no; detail
 * carries MSA-3 text); no ACK in time, connection refused/reset, or an ACK for another message -> retry.
 */

/** MSA-1 code, MSA-2 control id and MSA-3 text of an ACK ('' when absent). */
function ackFields(ack: Message): { code: string; controlId: string; text: string } {
  const field = (path: string): string => ack.get(path).toString().trim();
  return { code: field('MSA.1'), controlId: field('MSA.2'), text: field('MSA.3') };
}

export async function sendHl7(dest: { host: string; port: number }, message: string, ackTimeoutMs: number): Promise<DeliveryOutcome> {
  const where = `${dest.host}:${dest.port}`;
  let parsed: Message;
  try {
    parsed = new Message({ text: message });
  } catch (err) {
    return { status: 'rejected', detail: `HL7 message could not be built: ${(err as Error).message}` };
  }
  const ourControlId = parsed.get('MSH.10').toString();
  return await new Promise<DeliveryOutcome>((resolve) => {
    let settled = false;
    // connectionTimeout > 0 is what makes node-hl7-client report a refused/dropped socket at all
    // ('client.error'); with the default 0 it waits silently forever. Our own timer bounds the attempt anyway.
    const client = new Client({ host: dest.host, connectionTimeout: Math.min(60_000, Math.max(1, ackTimeoutMs)) });
    // maxConnectionAttempts 1: the outbox owns retrying (with backoff and persistence); the library's own
    // reconnect loop would hide a down EHR inside one "attempt".
    const connection = client.createConnection(
      { port: dest.port, waitAck: true, maxConnectionAttempts: 1, retryLow: 100, retryHigh: 200 },
      async (res) => {
        const ack = ackFields(res.getMessage());
        if (ourControlId && ack.controlId && ack.controlId !== ourControlId) {
          finish({ status: 'retry', detail: `ACK from ${where} is for message ${ack.controlId}, not ${ourControlId}` });
        } else if (ack.code === 'AA' || ack.code === 'CA') {
          finish({ status: 'delivered', detail: `ACK ${ack.code} from ${where}`, ackCode: ack.code });
        } else if (['AE', 'AR', 'CE', 'CR'].includes(ack.code)) {
          finish({ status: 'rejected', detail: `ACK ${ack.code} from ${where}${ack.text ? `: ${ack.text}` : ''}`, ackCode: ack.code });
        } else {
          finish({ status: 'retry', detail: `unreadable ACK from ${where} (MSA-1 '${ack.code}')` });
        }
      },
    );
    const finish = (outcome: DeliveryOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.close().catch(() => undefined);
      client.closeAll();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ status: 'retry', detail: `no ACK from ${where} within ${ackTimeoutMs} ms` }), ackTimeoutMs);
    connection.on('client.error', (err: unknown) => {
      const e = err as { code?: string; message?: string };
      finish({ status: 'retry', detail: `MLLP connection to ${where} failed: ${e.code ?? e.message ?? String(err)}` });
    });
    connection.on('close', () => finish({ status: 'retry', detail: `MLLP connection to ${where} closed before an ACK` }));
    connection.on('connect', () => {
      connection.sendMessage(parsed).catch((err: unknown) => {
        finish({ status: 'retry', detail: `could not send to ${where}: ${(err as Error).message}` });
      });
    });
  });
}
