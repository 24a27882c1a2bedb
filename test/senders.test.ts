import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { configSchema } from '../src/config/schema.ts';
import { startDimseListener, type DimseListener } from '../src/listener/dimse-scp.ts';
import { createStowRouter } from '../src/listener/stow.ts';
import { sendByCStore } from '../src/outbox/dimse-sender.ts';
import { sendHl7 } from '../src/outbox/mllp-sender.ts';
import { sendByStow } from '../src/outbox/stow-sender.ts';
import { freePort, startMllpListener, startOrthanc, startStorescp, type OrthancPeer, type StorescpPeer } from './peers/index.ts';
import { seriesFiles } from './helpers/ct-data.ts';
import { writeSyntheticInstance } from './helpers/synthetic-dicom.ts';

const chestFiles = seriesFiles('chest-ct-1');
const j2kFixedFiles = seriesFiles('j2k-ct', 'dicom_fixed');

const ORU =
  'MSH|^~\\&|BONEMET|BONEMET|EHR|HOSPITAL|20260101120000||ORU^R01^ORU_R01|BONEMET-TEST-1|P|2.5.1\r' +
  'PID|1||TESTPID^^^HOSP||TEST^PATIENT\r' +
  'OBR|1||ACC1|BODYCOMP^Body composition at T11^L\r' +
  'OBX|1|NM|SFA^Subcutaneous fat area^L||123.4|cm2|||||F';

describe('outbox senders against real peers (storescp, Orthanc, bonemet SCP/STOW, node-hl7-server)', function () {
  let orthanc: OrthancPeer;
  let storescp: StorescpPeer;
  let listener: DimseListener;
  let stowServer: http.Server;
  let ownStowBase: string;
  let dataDir: string;
  let tmpDir: string;
  const logger = pino({ level: 'silent' });

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-senders-'));
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bonemet-senders-in-'));
    [orthanc, storescp] = await Promise.all([startOrthanc(), startStorescp(path.join(tmpDir, 'storescp'))]);
    const config = configSchema.parse({ dataDir, dimse: { port: 0, allowedCallingAeTitles: ['BONEMET_SCU'] } });
    const sink = { instanceStored: () => undefined };
    listener = await startDimseListener(config, sink, logger);
    const app = express();
    app.use('/dicomweb', createStowRouter({ config, sink, logger }));
    stowServer = http.createServer(app);
    await new Promise<void>((resolve) => stowServer.listen(0, '127.0.0.1', resolve));
    ownStowBase = `http://127.0.0.1:${(stowServer.address() as AddressInfo).port}/dicomweb`;
  });

  after(async () => {
    await Promise.allSettled([orthanc?.stop(), storescp?.stop(), listener?.close()]);
    await new Promise((resolve) => stowServer?.close(resolve));
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(tmpDir, { recursive: true, force: true });
  });

  describe('C-STORE (sendByCStore)', () => {
    it('delivers to dcmtk storescp (JPEG lossless files as they are)', async () => {
      const files = chestFiles.slice(0, 3);
      const outcome = await sendByCStore({ aeTitle: storescp.aet, host: storescp.host, port: storescp.port }, 'BONEMET', files);
      assert.equal(outcome.status, 'delivered', outcome.detail);
      assert.equal(storescp.receivedFiles().length, 3);
    });

    it('delivers to Orthanc (JPEG 2000)', async () => {
      const before = await orthanc.instanceCount();
      const outcome = await sendByCStore({ aeTitle: orthanc.aet, host: '127.0.0.1', port: orthanc.dicomPort }, 'BONEMET', j2kFixedFiles.slice(0, 2));
      assert.equal(outcome.status, 'delivered', outcome.detail);
      assert.equal(await orthanc.instanceCount(), before + 2);
    });

    it('reports a failure status as rejected with the status and comment (bonemet SCP refusing an MR)', async () => {
      const mr = path.join(tmpDir, 'mr.dcm');
      writeSyntheticInstance(mr, '1.2.840.10008.5.1.4.1.1.4', 'MR');
      const outcome = await sendByCStore({ aeTitle: 'BONEMET', host: '127.0.0.1', port: listener.port }, 'BONEMET_SCU', [mr]);
      assert.equal(outcome.status, 'rejected', outcome.detail);
      assert.match(outcome.detail, /0x0122/);
      assert.match(outcome.detail, /CT only/);
    });

    it('an instance the peer accepts no presentation context for is rejected, not retried', async () => {
      const odd = path.join(tmpDir, 'private-class.dcm');
      writeSyntheticInstance(odd, '1.2.826.0.1.3680043.8.498.999.1', 'OT');
      // bonemet's SCP rejects non-storage abstract syntaxes at negotiation.
      const outcome = await sendByCStore({ aeTitle: 'BONEMET', host: '127.0.0.1', port: listener.port }, 'BONEMET_SCU', [odd]);
      assert.equal(outcome.status, 'rejected', outcome.detail);
      assert.match(outcome.detail, /no presentation context/);
    });

    it('a permanent association rejection (calling AE not allowed) is rejected, not retried forever', async () => {
      const outcome = await sendByCStore({ aeTitle: 'BONEMET', host: '127.0.0.1', port: listener.port }, 'STRANGER', chestFiles.slice(0, 1));
      assert.equal(outcome.status, 'rejected', outcome.detail);
      assert.match(outcome.detail, /association rejected/);
    });

    it('a closed port is retry', async () => {
      const port = await freePort();
      const outcome = await sendByCStore({ aeTitle: 'NOBODY', host: '127.0.0.1', port }, 'BONEMET', chestFiles.slice(0, 1));
      assert.equal(outcome.status, 'retry', outcome.detail);
    });
  });

  describe('STOW-RS (sendByStow)', () => {
    it('delivers to Orthanc /dicom-web/studies with the auth header', async () => {
      const before = await orthanc.instanceCount();
      const files = chestFiles.slice(10, 13);
      const outcome = await sendByStow(orthanc.dicomWebUrl, orthanc.authHeader, files);
      assert.equal(outcome.status, 'delivered', outcome.detail);
      assert.equal(await orthanc.instanceCount(), before + 3);
    });

    it('without credentials Orthanc answers 401: rejected (configuration, not transient)', async () => {
      const outcome = await sendByStow(orthanc.dicomWebUrl, {}, chestFiles.slice(20, 21));
      assert.equal(outcome.status, 'rejected', outcome.detail);
      assert.match(outcome.detail, /HTTP 401/);
    });

    it('a 409 with FailedSOPSequence (bonemet STOW refusing a truncated file) is rejected with the reason', async () => {
      const truncated = path.join(tmpDir, 'truncated.dcm');
      const whole = fs.readFileSync(chestFiles[30] as string);
      fs.writeFileSync(truncated, whole.subarray(0, whole.length - 5000));
      const outcome = await sendByStow(ownStowBase, {}, [truncated]);
      assert.equal(outcome.status, 'rejected', outcome.detail);
      assert.match(outcome.detail, /0xc001/);
    });

    it('a closed port is retry', async () => {
      const outcome = await sendByStow(`http://127.0.0.1:${await freePort()}/dicom-web`, {}, chestFiles.slice(0, 1));
      assert.equal(outcome.status, 'retry', outcome.detail);
      assert.match(outcome.detail, /ECONNREFUSED/);
    });
  });

  describe('MLLP (sendHl7)', () => {
    it('ACK AA -> delivered, and the listener received the ORU', async () => {
      const mllp = await startMllpListener({ ackCode: 'AA' });
      try {
        const outcome = await sendHl7({ host: mllp.host, port: mllp.port }, ORU, 10_000);
        assert.equal(outcome.status, 'delivered', outcome.detail);
        assert.equal(outcome.ackCode, 'AA');
        assert.equal(mllp.received.length, 1);
        assert.match(mllp.received[0] ?? '', /OBX\|1\|NM\|SFA/);
      } finally {
        await mllp.stop();
      }
    });

    it('ACK AE -> rejected with the code', async () => {
      const mllp = await startMllpListener({ ackCode: 'AE' });
      try {
        const outcome = await sendHl7({ host: mllp.host, port: mllp.port }, ORU, 10_000);
        assert.equal(outcome.status, 'rejected', outcome.detail);
        assert.equal(outcome.ackCode, 'AE');
      } finally {
        await mllp.stop();
      }
    });

    it('no ACK within the timeout -> retry', async () => {
      const mllp = await startMllpListener({ ackCode: 'none' });
      try {
        const outcome = await sendHl7({ host: mllp.host, port: mllp.port }, ORU, 1500);
        assert.equal(outcome.status, 'retry', outcome.detail);
        assert.match(outcome.detail, /no ACK/);
      } finally {
        await mllp.stop();
      }
    });

    it('a closed port -> retry', async () => {
      const outcome = await sendHl7({ host: '127.0.0.1', port: await freePort() }, ORU, 5000);
      assert.equal(outcome.status, 'retry', outcome.detail);
      assert.match(outcome.detail, /ECONNREFUSED/);
    });
  });
});
