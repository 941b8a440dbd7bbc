/**
 * Faults during projection: the final state must equal one clean pass over the same bus, and every record must be
 * accounted for exactly once. "Equal" is checked on the tables themselves (contributions, tiles, watermarks, the
 * dedupe ledger, quarantine, checkpoint counters), read from two databases and joined through `series` by natural
 * key, against a reference pass without faults (and with another batch size).
 *
 * 1. SIGKILL of a child `ofp worker` process inside a batch transaction, then a new one.
 * 2. Two workers on one task queue: covered in projector.test.ts.
 * 3. A separate Temporal dev server stopped and started again (same data, same port) during projection.
 * 4. The worker's PostgreSQL connections terminated (pg_terminate_backend) inside batch transactions.
 * 5. A bus with duplicates and reordering against its clean twin (no duplicates, event-time order).
 */
import fs from 'node:fs';
import { MIXED_TRAFFIC } from './support/traffic';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { partitionFilePath } from '../../src/bus/file-layout';
import { formatTimestamp } from '../../src/core/time';
import { generate, generateToLines, type GenerateSummary } from '../../src/generator/generate';
import { supervisorWorkflowId } from '../../src/workflows/messages';
import { logger } from '../../src/logger';
import { findFreePort } from '../../src/services/ports';
import { startTemporalDevServer } from '../../src/services/temporal-server';
import type { RunningWorker } from '../../src/runtime/projector-worker';
import { createTestStack, type TestStack } from './support/stack';
import { temporalAddress, tempDir } from './support/services';
import { startChildWorker, type ChildWorker } from './support/child-worker';
import {
  accounting,
  busEnds,
  cleanupWorkflows,
  diffDumps,
  dumpProjection,
  progress,
  sleep,
  startWorkerFor,
  tileModelCheck,
  waitProjected,
  type ProjectionDump,
} from './support/projection-state';

jest.setTimeout(120_000);

const TRAFFIC = {
  seed: 21,
  count: 8000,
  rate: 20,
  ...MIXED_TRAFFIC,
};
/** Batch size of the faulted passes (the reference pass uses the default 2000): many commits to interrupt. */
const FAULT_BATCH = 250;

/** The shared bus of faults 1, 3 and 4 and its clean reference projection. */
let busRoot: string;
let summary: GenerateSummary;
let ends: Map<string, number>;
let reference: ProjectionDump;

/** Accounting holds and matches the generator's expectation; the dump equals the reference pass. */
async function expectCleanPassState(stack: TestStack): Promise<void> {
  const acc = await accounting(stack.pool);
  expect(acc.read).toBe(summary.events);
  expect(acc.applied + acc.duplicates + acc.irrelevant + acc.quarantined).toBe(acc.read);
  expect(acc.applied).toBe(summary.classes.applied);
  expect(acc.duplicates).toBe(summary.classes.duplicate);
  expect(acc.appliedRows).toBe(acc.applied);
  expect(acc.quarantineRows).toBe(acc.quarantined);
  const dump = await dumpProjection(stack.pool);
  expect(diffDumps(dump, reference)).toEqual({});
  const tiles = await tileModelCheck(stack.pool);
  expect(tiles.violations).toEqual([]);
  // Both kinds of hour, so that the faulted passes crossed into dense hours at other batch boundaries than the reference.
  expect(tiles.denseHours).toBeGreaterThan(0);
  expect(tiles.sparseHours).toBeGreaterThan(0);
}

beforeAll(async () => {
  busRoot = tempDir('ofp-faults-bus-');
  summary = await generate(TRAFFIC, busRoot);
  ends = busEnds(summary);
  const ref = await createTestStack({ busRoot });
  try {
    await ref.startWorker();
    await waitProjected(ref.pool, ends, 60_000);
    reference = await dumpProjection(ref.pool);
    const acc = await accounting(ref.pool);
    expect(acc.read).toBe(summary.events);
    expect(acc.applied).toBe(summary.classes.applied);
    expect(reference.contributions.length).toBeGreaterThan(summary.classes.applied);
  } finally {
    await ref.stop();
    await cleanupWorkflows(temporalAddress(), ref.idPrefix, ends.keys());
  }
}, 90_000);

afterAll(() => fs.rmSync(busRoot, { recursive: true, force: true }));

describe('faults during projection', () => {
  let stack: TestStack | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await stack?.stop();
    stack = undefined;
  });

  it('1. SIGKILL of a child worker mid-batch, then a new worker: state equals a clean pass', async () => {
    const s = (stack = await createTestStack({ busRoot }));
    const connection = await Connection.connect({ address: temporalAddress() });
    const client = new Client({ connection });
    cleanups.push(async () => {
      await connection.close();
      await cleanupWorkflows(temporalAddress(), s.idPrefix, ends.keys());
    });
    // The CLI worker starts the supervisor with default inputs unless it exists ("use existing"): start it first,
    // with a small batch size, so that the child's partition workflows commit many batches.
    await client.workflow.start('supervisorWorkflow', {
      workflowId: supervisorWorkflowId(s.idPrefix),
      taskQueue: s.taskQueue,
      args: [{ batchSize: FAULT_BATCH, idleWaitMs: 3000, discoveryIntervalMs: 500 }],
    });
    const childOptions = {
      databaseUrl: s.databaseUrl,
      temporalAddress: temporalAddress(),
      busRoot,
      taskQueue: s.taskQueue,
      idPrefix: s.idPrefix,
    };
    const children: ChildWorker[] = [];
    cleanups.push(async () => {
      for (const c of children) await c.stop(5000);
    });
    const first = startChildWorker(childOptions);
    children.push(first);

    // Wait until some records are applied and a batch transaction of the worker holds uncommitted writes.
    let caughtInTransaction = false;
    for (;;) {
      if (!first.isRunning()) throw new Error(`the child worker exited early:\n${first.logTail()}`);
      const p = await progress(s.pool, ends);
      if (p.done >= p.total * 0.8) break;
      if (p.done > 0) {
        const { rows } = await s.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'ofp-worker'
              AND backend_xid IS NOT NULL AND query NOT ILIKE '%INSERT INTO series%'`,
        );
        if (rows[0].n > 0) {
          caughtInTransaction = true;
          break;
        }
      }
      await sleep(5);
    }
    const exit = await first.kill('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    const atKill = await progress(s.pool, ends);
    const accAtKill = await accounting(s.pool);
    expect(atKill.done).toBeGreaterThan(0);
    expect(atKill.done).toBeLessThan(atKill.total);
    // Nothing committed past the checkpoints: every applied event belongs to a committed batch.
    expect(accAtKill.appliedRows).toBe(accAtKill.applied);
    console.log(
      `fault 1: killed pid ${first.pid} at ${atKill.done}/${atKill.total} records, inside a batch transaction: ${caughtInTransaction}`,
    );

    const restarted = Date.now();
    const second = startChildWorker(childOptions);
    children.push(second);
    await waitProjected(s.pool, ends, 90_000, () => `\n${second.logTail()}`);
    console.log(
      `fault 1: the second worker finished the projection ${Date.now() - restarted} ms after it was started`,
    );
    // A graceful stop (SIGTERM) takes ~10 s: the CLI's second Worker.shutdown() throws (the SDK already drains on
    // SIGTERM), so the pools are not closed and idle connections hold the process until their idle timeout.
    // Check the state meanwhile.
    const stopped = second.stop();
    await expectCleanPassState(s);
    await stopped;
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });

  it('3. the Temporal server restarted during projection: projection completes and equals a clean pass', async () => {
    const s = (stack = await createTestStack({ busRoot }));
    const log = logger.child({ test: s.idPrefix, component: 'fault-3-temporal' });
    log.level = 'warn';
    const dataDir = tempDir('ofp-faults-temporal-');
    cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const serverOptions = {
      dataDir,
      port: await findFreePort(),
      uiPort: null,
      namespace: 'default',
      log,
      readyTimeoutMs: 60_000,
    };
    let server = await startTemporalDevServer(serverOptions);
    cleanups.push(() => server.stop());
    const workers: RunningWorker[] = [];
    cleanups.push(async () => {
      for (const w of workers) await w.shutdown();
    });
    // One batch per activity: a long-running activity would finish the whole backlog without the server (it only
    // needs PostgreSQL and the bus), and the outage would then test nothing.
    const worker = await startWorkerFor(s, {
      temporalAddress: server.address,
      batchSize: FAULT_BATCH,
      batchesPerActivity: 1,
    });
    workers.push(worker);
    let workerError: unknown;
    let workerDone = false;
    worker.done.then(
      () => (workerDone = true),
      (err) => ((workerDone = true), (workerError = err)),
    );

    for (;;) {
      const p = await progress(s.pool, ends);
      if (p.done > 0) break;
      await sleep(20);
    }
    const atStop = await progress(s.pool, ends);
    await server.stop();
    const stoppedAt = Date.now();
    // Batches already running commit (the database is up); their completions cannot reach the server, and no new
    // activity can be scheduled, so progress stops there until the server is back.
    await sleep(3000);
    const whileDown = await progress(s.pool, ends);
    expect(whileDown.done).toBeLessThan(whileDown.total);
    server = await startTemporalDevServer(serverOptions);
    const downMs = Date.now() - stoppedAt;
    const restarted = Date.now();
    const state = () =>
      `worker ${workerDone ? `stopped: ${String(workerError ?? 'without error')}` : 'running'}`;
    await waitProjected(s.pool, ends, 90_000, state);
    console.log(
      `fault 3: server stopped at ${atStop.done}/${atStop.total} records, ${whileDown.done} after 3 s down, ` +
        `back after ${downMs} ms; caught up ${Date.now() - restarted} ms after the restart; ${state()}`,
    );
    // The same worker (same NativeConnection) recovers: the SDK retries its polls and completions.
    expect(workerDone).toBe(false);
    await expectCleanPassState(s);
  });

  it('4. database connections cut mid-transaction: retried activities, state equals a clean pass', async () => {
    const s = (stack = await createTestStack({ busRoot }));
    const worker = await startWorkerFor(s, { temporalAddress: temporalAddress(), batchSize: FAULT_BATCH });
    cleanups.push(async () => {
      await worker.shutdown();
      await cleanupWorkflows(temporalAddress(), s.idPrefix, ends.keys());
    });
    let workerError: unknown;
    worker.done.catch((err) => (workerError = err));

    let inTransaction = 0;
    let terminated = 0;
    const started = Date.now();
    while (inTransaction < 6 && Date.now() - started < 30_000) {
      const p = await progress(s.pool, ends);
      if (p.done >= p.total * 0.9) break;
      const { rows } = await s.pool.query(
        `SELECT count(*) FILTER (WHERE backend_xid IS NOT NULL AND query NOT ILIKE '%INSERT INTO series%')::int AS n
           FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ofp-worker'`,
      );
      if (rows[0].n > 0) {
        const t = await s.pool.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'ofp-worker'`,
        );
        terminated += t.rows.filter((r) => r.ok).length;
        inTransaction++;
        await sleep(400);
      } else await sleep(5);
    }
    const atEnd = await progress(s.pool, ends);
    console.log(
      `fault 4: ${inTransaction} cuts inside a batch transaction (${terminated} backends terminated) until ${atEnd.done}/${atEnd.total}`,
    );
    expect(inTransaction).toBeGreaterThan(0);
    await waitProjected(s.pool, ends, 90_000, () => `worker error: ${String(workerError ?? '')}`);
    expect(workerError).toBeUndefined();
    await expectCleanPassState(s);
  });

  it('5. duplicates and reordering: the same events without duplicates, in time order, project to the same state', async () => {
    const generated = generateToLines({
      seed: 5,
      count: 5000,
      rate: 20,
      partitions: 2,
      runs: 2,
      outOfOrderFraction: 0.1,
      duplicateFraction: 0.05,
      progress: false,
    });
    const dirtySummary = generated.summary;
    expect(dirtySummary.classes.duplicate).toBeGreaterThan(100);
    expect(dirtySummary.outOfOrder).toBeGreaterThan(100);

    // The clean twin: every duplicate dropped (each is checked to repeat an earlier line of its partition exactly),
    // then each partition stably sorted by ts_utc, so it holds the same events once each and in event-time order.
    const dirty = new Map<string, string[]>();
    const clean = new Map<string, { ts: string; line: string }[]>();
    const seen = new Set<string>();
    for (const e of generated.emissions) {
      const k = `${e.stream}/${e.partition}`;
      if (!dirty.has(k)) {
        dirty.set(k, []);
        clean.set(k, []);
      }
      dirty.get(k)!.push(e.line);
      const exact = `${k}\n${e.line}`;
      if (e.cls === 'duplicate') {
        expect(seen.has(exact)).toBe(true);
        continue;
      }
      expect(e.cls).toBe('applied');
      seen.add(exact);
      const ts = (JSON.parse(e.line) as { ts_utc: string }).ts_utc;
      expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      clean.get(k)!.push({ ts, line: e.line });
    }
    let reordered = 0;
    for (const rows of clean.values()) {
      for (let i = 1; i < rows.length; i++) if (rows[i].ts < rows[i - 1].ts) reordered++;
      rows.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)); // Array.prototype.sort is stable
    }
    expect(reordered).toBeGreaterThan(0);

    const dirtyRoot = tempDir('ofp-faults-dirty-');
    const cleanRoot = tempDir('ofp-faults-clean-');
    cleanups.push(async () => {
      for (const root of [dirtyRoot, cleanRoot]) fs.rmSync(root, { recursive: true, force: true });
    });
    const dirtyEnds = new Map<string, number>();
    const cleanEnds = new Map<string, number>();
    for (const [k, lines] of dirty) {
      const at = k.lastIndexOf('/');
      const [stream, partition] = [k.slice(0, at), Number(k.slice(at + 1))];
      const cleanLines = clean.get(k)!.map((r) => r.line);
      for (const [root, ls] of [
        [dirtyRoot, lines],
        [cleanRoot, cleanLines],
      ] as const) {
        fs.mkdirSync(path.dirname(partitionFilePath(root, stream, partition)), { recursive: true });
        fs.writeFileSync(partitionFilePath(root, stream, partition), ls.map((l) => `${l}\n`).join(''));
      }
      dirtyEnds.set(k, lines.length);
      cleanEnds.set(k, cleanLines.length);
    }

    // Stopped before their bus directories are removed (cleanups run in reverse order).
    const dirtyStack = await createTestStack({ busRoot: dirtyRoot });
    cleanups.push(() => dirtyStack.stop());
    const cleanStack = await createTestStack({ busRoot: cleanRoot });
    cleanups.push(() => cleanStack.stop());
    // Different batch sizes too: batch boundaries must not matter either.
    const workers = await Promise.all([
      startWorkerFor(dirtyStack, { temporalAddress: temporalAddress(), batchSize: 300 }),
      startWorkerFor(cleanStack, { temporalAddress: temporalAddress(), batchSize: 2000 }),
    ]);
    cleanups.push(async () => {
      await Promise.all(workers.map((w) => w.shutdown()));
      await cleanupWorkflows(temporalAddress(), dirtyStack.idPrefix, dirtyEnds.keys());
      await cleanupWorkflows(temporalAddress(), cleanStack.idPrefix, cleanEnds.keys());
    });
    await Promise.all([
      waitProjected(dirtyStack.pool, dirtyEnds, 60_000),
      waitProjected(cleanStack.pool, cleanEnds, 60_000),
    ]);

    const dirtyAcc = await accounting(dirtyStack.pool);
    const cleanAcc = await accounting(cleanStack.pool);
    expect(dirtyAcc).toEqual({
      read: dirtySummary.events,
      applied: dirtySummary.classes.applied,
      duplicates: dirtySummary.classes.duplicate,
      anomalies: 0,
      irrelevant: 0,
      quarantined: 0,
      appliedRows: dirtySummary.classes.applied,
      quarantineRows: 0,
    });
    expect(cleanAcc).toEqual({ ...dirtyAcc, read: dirtySummary.classes.applied, duplicates: 0 });

    // Same tables, bus offsets aside (the clean twin holds the events at other offsets).
    const dirtyDump = await dumpProjection(dirtyStack.pool, { positions: false });
    const cleanDump = await dumpProjection(cleanStack.pool, { positions: false });
    expect(dirtyDump.tiles.length).toBeGreaterThan(0);
    expect(diffDumps(dirtyDump, cleanDump)).toEqual({});
    expect((await tileModelCheck(dirtyStack.pool)).violations).toEqual([]);

    // Same answers: every group, both runs, keys that exist and one that does not, at three instants.
    const [dirtyGw, cleanGw] = await Promise.all([dirtyStack.startGateway(), cleanStack.startGateway()]);
    const { from, to } = dirtySummary.eventTime!;
    const asOfs = [to, from, formatTimestamp(Math.round((Date.parse(from) + Date.parse(to)) / 2) * 1000)];
    let compared = 0;
    for (const run of dirtySummary.runs) {
      for (const group of dirtyStack.policy.groups) {
        const { rows } = await dirtyStack.pool.query(
          `SELECT DISTINCT s.key_id FROM series s JOIN runs r USING (run_key)
            WHERE r.platform_run_id = $1 AND r.scenario_run_id = $2 AND s.group_name = $3 ORDER BY 1 LIMIT 4`,
          [run.platformRunId, run.scenarioRunId, group.name],
        );
        expect(rows.length).toBeGreaterThan(0);
        const keys = [...rows.map((r) => r.key_id as string), '18446744073709551615'].map((keyId) => ({
          keyType: group.keyType,
          keyId,
        }));
        for (const asOf of asOfs) {
          const input = { pins: run, asOf, keys, groups: [{ name: group.name, version: group.version }] };
          const [a, b] = await Promise.all([
            dirtyGw.gateway.features(input, 'graphql'),
            cleanGw.gateway.features(input, 'graphql'),
          ]);
          if ('code' in a) throw new Error(`${a.code}: ${a.detail}`);
          if ('code' in b) throw new Error(`${b.code}: ${b.detail}`);
          expect(a.content.features).toEqual(b.content.features);
          expect(a.content.freshness).toEqual(b.content.freshness);
          compared++;
        }
      }
    }
    expect(compared).toBe(dirtySummary.runs.length * dirtyStack.policy.groups.length * asOfs.length);
  });
});
