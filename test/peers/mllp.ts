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
  // An auto-chosen port can be taken before we bind it: retry with a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, opts.port ?? (await freePort()));
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startOnce(opts: { ackCode?: 'AA' | 'AE' | 'AR' | 'none' }, port: number): Promise<MllpListenerPeer> {
  const ackCode = opts.ackCode ?? 'AA';
  const received: string[] = [];
  const server = new Server({ bindAddress: '127.0.0.1' });
  const inbound = server.createInbound({ port }, async (req, res) => {
    received.push(req.getMessage().toString());
    if (ackCode !== 'none') await res.sendResponse(ackCode);
  });
  let listenError: Error | null = null;
  // node-hl7-server re-emits its net.Server's 'error' on the Inbound: unhandled, EADDRINUSE would crash the run.
  inbound.on('error', (err: Error) => {
    listenError = err;
  });
  await waitForPort(port);
  // If the port was already taken, waitForPort saw the other listener; the error above tells.
  await new Promise((r) => setTimeout(r, 50));
  if (listenError) {
    await inbound.close().catch(() => undefined);
    throw new Error(`MLLP listener could not listen on ${port}: ${(listenError as Error).message}`);
  }
  return {
    host: '127.0.0.1',
    port,
    received,
    async stop() {
      await inbound.close();
    },
  };
}
