import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import { Client, Message } from 'node-hl7-client';
import { seriesFiles } from './helpers/ct-data.ts';
import { echoscu, startMllpListener, startOrthanc, startStorescp, storescu } from './peers/index.ts';

// The peers other tests depend on: if these fail, every end-to-end failure is about the harness, not bonemet.
describe('test peers (real Orthanc, dcmtk, MLLP)', function () {
  it('Orthanc starts with DICOMweb + auth, accepts storescu, answers QIDO, and stops cleanly', async () => {
    const orthanc = await startOrthanc();
    try {
      const echo = await echoscu({ host: '127.0.0.1', port: orthanc.dicomPort, aet: orthanc.aet });
      assert.equal(echo.code, 0, echo.output);
      const files = seriesFiles('chest-ct-1').slice(0, 3);
      const store = await storescu(files, { host: '127.0.0.1', port: orthanc.dicomPort, aet: orthanc.aet, extraArgs: ['-xs'] });
      assert.equal(store.code, 0, store.output);
      assert.equal(await orthanc.instanceCount(), 3);
      const unauth = await fetch(`${orthanc.dicomWebUrl}/studies`);
      assert.equal(unauth.status, 401, 'Orthanc must require auth');
      const qido = await fetch(`${orthanc.dicomWebUrl}/studies`, { headers: orthanc.authHeader });
      assert.equal(qido.status, 200);
      assert.equal(((await qido.json()) as unknown[]).length, 1);
    } finally {
      await orthanc.stop();
    }
  });

  it('Orthanc Lua routes a stable CT series to a registered modality (storescp)', async () => {
    const scp = await startStorescp();
    const orthanc = await startOrthanc({ bonemetAe: { aet: scp.aet, host: scp.host, port: scp.port }, luaRouteCtOnly: true });
    try {
      const files = seriesFiles('chest-ct-1').slice(0, 3);
      const store = await storescu(files, { host: '127.0.0.1', port: orthanc.dicomPort, aet: orthanc.aet, extraArgs: ['-xs'] });
      assert.equal(store.code, 0, store.output);
      const deadline = Date.now() + 30_000;
      while (scp.receivedFiles().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      assert.equal(scp.receivedFiles().length, 3, orthanc.logTail());
    } finally {
      await orthanc.stop();
      await scp.stop();
      fs.rmSync(scp.dir, { recursive: true, force: true });
    }
  });

  it('MLLP listener records the message and answers the configured ACK code', async () => {
    for (const ackCode of ['AA', 'AE'] as const) {
      const mllp = await startMllpListener({ ackCode });
      try {
        const ack = await new Promise<string>((resolve, reject) => {
          const client = new Client({ host: mllp.host });
          const conn = client.createConnection({ port: mllp.port, waitAck: true }, async (res) => {
            resolve(res.getMessage().toString());
            await conn.close();
          });
          conn.on('client.error', reject);
          conn.on('connect', () => {
            void conn.sendMessage(
              new Message({ text: 'MSH|^~\\&|BONEMET|BONEMET|EHR|HOSPITAL|20260101000000||ORU^R01^ORU_R01|MSG1|P|2.5.1\rPID|1||X' }),
            );
          });
        });
        assert.match(ack, new RegExp(`MSA\\|${ackCode}\\|MSG1`));
        assert.equal(mllp.received.length, 1);
        assert.match(mllp.received[0] ?? '', /ORU\^R01/);
      } finally {
        await mllp.stop();
      }
    }
  });
});
