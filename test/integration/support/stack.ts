/** A projector worker and a gateway against a fresh database and bus, on the shared test Temporal server. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { FileEventBus } from '../../../src/bus/file-bus';
import { envelopeSchema, payloadSchemas } from '../../../src/contracts';
import { RecordParser } from '../../../src/core/envelope';
import { loadPolicyFile } from '../../../src/core/policy-file';
import type { FeaturePolicy } from '../../../src/core/policy';
import { createPool, type Pool } from '../../../src/db/pool';
import { logger } from '../../../src/logger';
import { startGateway, type GatewayOptions, type RunningGateway } from '../../../src/runtime/gateway';
import { startProjectorWorker, type RunningWorker } from '../../../src/runtime/projector-worker';
import { parseTokens } from '../../../src/serving/auth';
import { freshDatabase, temporalAddress, tempDir, uniqueTaskQueue } from './services';

export const READER_TOKEN = 'reader-token-for-tests';
export const OPERATOR_TOKEN = 'operator-token-for-tests';
export const DEFAULT_POLICY = path.resolve(__dirname, '../../../config/features.yaml');

export interface TestStack {
  databaseUrl: string;
  busRoot: string;
  policy: FeaturePolicy;
  parser: RecordParser;
  bus: FileEventBus;
  pool: Pool;
  idPrefix: string;
  taskQueue: string;
  startWorker(): Promise<RunningWorker>;
  startGateway(overrides?: Partial<GatewayOptions>): Promise<RunningGateway>;
  /** Waits until every partition's checkpoint reached the bus end and none is below `minRecords` in total. */
  waitCaughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function createTestStack(
  options: { policyPath?: string; busRoot?: string } = {},
): Promise<TestStack> {
  const databaseUrl = await freshDatabase();
  const busRoot = options.busRoot ?? tempDir('ofp-bus-');
  const policy = loadPolicyFile(options.policyPath ?? DEFAULT_POLICY);
  const parser = new RecordParser({ envelopeSchema, payloadSchemas });
  const pool = createPool(databaseUrl, { max: 4 });
  const idPrefix = `t${randomBytes(4).toString('hex')}`;
  const taskQueue = uniqueTaskQueue('ofp-it');
  const stops: (() => Promise<void>)[] = [];
  const log = logger.child({ test: idPrefix });
  log.level = process.env.OFP_TEST_LOG_LEVEL ?? 'warn';
  const stack: TestStack = {
    databaseUrl,
    busRoot,
    policy,
    parser,
    bus: new FileEventBus(busRoot),
    pool,
    idPrefix,
    taskQueue,
    async startWorker() {
      const w = await startProjectorWorker({
        databaseUrl,
        temporalAddress: temporalAddress(),
        namespace: 'default',
        taskQueue,
        policy,
        parser,
        bus: new FileEventBus(busRoot),
        log,
        idPrefix,
        supervisor: { discoveryIntervalMs: 500, idleWaitMs: 5000 },
      });
      stops.push(() => w.shutdown());
      return w;
    },
    async startGateway(overrides = {}) {
      const g = await startGateway({
        databaseUrl,
        temporalAddress: temporalAddress(),
        namespace: 'default',
        policy,
        bus: new FileEventBus(busRoot),
        tokens: parseTokens(`reader:${READER_TOKEN},operator:${OPERATOR_TOKEN}`),
        port: 0,
        introspection: true,
        log,
        idPrefix,
        ...overrides,
      });
      stops.push(() => g.stop());
      return g;
    },
    async waitCaughtUp(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await pool.query(`SELECT stream, partition, next_offset, state FROM checkpoints`);
        let behind = rows.length === 0;
        for (const r of rows)
          if (r.state === 'RUNNING' && r.next_offset < (await stack.bus.endOffset(r.stream, r.partition)))
            behind = true;
        if (!behind) return;
        if (Date.now() > deadline) throw new Error(`projection not caught up: ${JSON.stringify(rows)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      for (const s of stops.reverse()) await s().catch(() => undefined);
      await stack.bus.close();
      await pool.end();
    },
  };
  return stack;
}
