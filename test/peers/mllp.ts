import { Server } from 'node-hl7-server';
import { freePort, waitForPort } from './ports.ts';

export interface MllpListenerPeer {
  host: string;
  port: number;
  /** Raw text of every message received, in arrival order (segments separated by \r). */
  received: string[];
  stop(): Promise<void>;
}

/**
 * An HL7 v2 MLLP receiver (node-hl7-server) that records each message and answers with `ackCode`
 * (AA accept, AE error, AR reject). `ackCode: 'none'` never answers, to exercise ACK timeouts.
 */
export async function startMllpListener(
  opts: { ackCode?: 'AA' | 'AE' | 'AR' | 'none'; port?: number } = {},
): Promise<MllpListenerPeer> {
  const port = opts.port ?? (await freePort());
  const ackCode = opts.ackCode ?? 'AA';
  const received: string[] = [];
  const server = new Server({ bindAddress: '127.0.0.1' });
  const inbound = server.createInbound({ port }, async (req, res) => {
    received.push(req.getMessage().toString());
    if (ackCode !== 'none') await res.sendResponse(ackCode);
  });
  await waitForPort(port);
  return {
    host: '127.0.0.1',
    port,
    received,
    async stop() {
      await inbound.close();
    },
  };
}
