/**
 * Starts the real Temporal dev server (the CLI binary found or built by ensureTemporalCli; building takes minutes the
 * first time on a machine, then it is cached under ~/.cache/ofp).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import pino from 'pino';
import { PortInUseError, TemporalUnavailableError } from '../../src/services/errors';
import { findFreePort } from '../../src/services/ports';
import { isProcessAlive } from '../../src/services/process';
import { ensureTemporalCli } from '../../src/services/temporal-cli';
import {
  checkTemporalReachable,
  ensureSearchAttributes,
  OFP_SEARCH_ATTRIBUTES,
  startTemporalDevServer,
  type TemporalDevServer,
} from '../../src/services/temporal-server';

const log = pino({ level: 'silent' });
let tmp: string;
let binary: string;

beforeAll(
  async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-temporal-test-'));
    binary = await ensureTemporalCli({ log });
  },
  15 * 60 * 1000,
);
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('startTemporalDevServer', () => {
  let server: TemporalDevServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('serves the namespace with the four OFP search attributes, and stops its process', async () => {
    const [port, uiPort] = [await findFreePort(), await findFreePort()];
    server = await startTemporalDevServer({ dataDir: tmp, port, uiPort, namespace: 'ofp-test', log, binary });
    expect(server.address).toBe(`127.0.0.1:${port}`);
    expect(server.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
    expect(fs.existsSync(path.join(tmp, 'temporal', 'temporal.db'))).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'temporal', 'server.log'))).toBe(true);

    const connection = await Connection.connect({ address: server.address });
    try {
      const ns = await connection.workflowService.describeNamespace({ namespace: 'ofp-test' });
      expect(ns.namespaceInfo?.name).toBe('ofp-test');
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: 'ofp-test',
      });
      // IndexedValueType: 2 = Keyword, 3 = Int.
      expect(customAttributes).toMatchObject({
        OfpStream: 2,
        OfpPartition: 3,
        OfpState: 2,
        OfpNextOffset: 3,
      });
      expect(Object.keys(OFP_SEARCH_ATTRIBUTES).sort()).toEqual([
        'OfpNextOffset',
        'OfpPartition',
        'OfpState',
        'OfpStream',
      ]);

      // Registering what is missing (as the worker does against a production server).
      await ensureSearchAttributes(connection, 'ofp-test', { OfpTestOnly: 'Keyword' });
      const after = await connection.operatorService.listSearchAttributes({ namespace: 'ofp-test' });
      expect(after.customAttributes?.OfpTestOnly).toBe(2);
    } finally {
      await connection.close();
    }
    await expect(checkTemporalReachable(server.address, 'ofp-test')).resolves.toBeUndefined();

    const pid = server.pid;
    await server.stop();
    server = undefined;
    expect(isProcessAlive(pid)).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'temporal', 'server.pid'))).toBe(false);
    await expect(checkTemporalReachable(`127.0.0.1:${port}`, 'ofp-test')).rejects.toThrow(
      `cannot reach Temporal at 127.0.0.1:${port}; check TEMPORAL_ADDRESS`,
    );
  });

  it('restarts on the existing database with dynamic config and without the UI', async () => {
    const port = await findFreePort();
    server = await startTemporalDevServer({
      dataDir: tmp,
      port,
      uiPort: null,
      namespace: 'ofp-test',
      log,
      binary,
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 50 },
    });
    expect(server.uiUrl).toBeUndefined();
    const connection = await Connection.connect({ address: server.address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: 'ofp-test',
      });
      expect(customAttributes).toMatchObject({ OfpStream: 2, OfpTestOnly: 2 });
    } finally {
      await connection.close();
    }
    expect(fs.readFileSync(path.join(tmp, 'temporal', 'server.log'), 'utf8')).toContain(
      '--dynamic-config-value limit.historyCount.suggestContinueAsNew=50',
    );
  });

  it('names OFP_TEMPORAL_UI_PORT when the UI port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const uiPort = (blocker.address() as net.AddressInfo).port;
    try {
      const err = await startTemporalDevServer({
        dataDir: tmp,
        port: await findFreePort(),
        uiPort,
        namespace: 'default',
        log,
        binary,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as Error).message).toBe(
        `port ${uiPort} is in use; set OFP_TEMPORAL_UI_PORT to another port`,
      );
    } finally {
      blocker.close();
    }
  });
});

describe('checkTemporalReachable', () => {
  it('fails at once, in one line, when nothing listens', async () => {
    const port = await findFreePort();
    const started = Date.now();
    const err = await checkTemporalReachable(`127.0.0.1:${port}`, 'default').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalUnavailableError);
    expect((err as Error).message).toBe(`cannot reach Temporal at 127.0.0.1:${port}; check TEMPORAL_ADDRESS`);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
