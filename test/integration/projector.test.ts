/**
 * The projector against real PostgreSQL and a real Temporal server: every record of generated traffic (with
 * duplicates, reordering and every invalid kind) is accounted for exactly once, and the served features equal an
 * offline replay of the bus at the served basis.
 */
import fs from 'node:fs';
import { MIXED_TRAFFIC } from './support/traffic';
import path from 'node:path';
import { generate } from '../../src/generator/generate';
import { createPrisma } from '../../src/db/prisma';
import { replayBus, answerFromReplay } from '../../src/replay/replay';
import { snapshotHash } from '../../src/core/snapshot';
import { validateRequest } from '../../src/serving/request';
import { formatTimestamp } from '../../src/core/time';
import { createTestStack, DEFAULT_POLICY, type TestStack } from './support/stack';
import { tempDir } from './support/services';
import { busEnds, waitProjected } from './support/projection-state';
import { partitionFilePath } from '../../src/bus/file-layout';

jest.setTimeout(180_000);

const TRAFFIC_MIX = {
  seed: 7,
  count: 4000,
  rate: 20,
  ...MIXED_TRAFFIC,
};

async function checkpointTotals(stack: TestStack) {
  const { rows } = await stack.pool.query(
    `SELECT sum(records_read)::int AS read, sum(applied)::int AS applied, sum(duplicates)::int AS duplicates,
            sum(anomalies)::int AS anomalies, sum(irrelevant)::int AS irrelevant, sum(quarantined)::int AS quarantined
       FROM checkpoints`,
  );
  return rows[0];
}

async function quarantineByClass(stack: TestStack): Promise<Record<string, number>> {
  const { rows } = await stack.pool.query(`SELECT class, count(*)::int AS n FROM quarantine GROUP BY class`);
  return Object.fromEntries(rows.map((r) => [r.class, r.n]));
}

describe('projector through Temporal', () => {
  let stack: TestStack;
  afterEach(async () => stack?.stop());

  it('accounts for every record exactly once and serves what an offline replay computes', async () => {
    stack = await createTestStack();
    const summary = await generate(TRAFFIC_MIX, stack.busRoot);
    await stack.startWorker();
    await stack.waitCaughtUp();

    const totals = await checkpointTotals(stack);
    expect(totals.read).toBe(summary.events);
    expect(totals.applied + totals.duplicates + totals.irrelevant + totals.quarantined).toBe(totals.read);
    expect(totals.applied).toBe(summary.classes.applied);
    expect(totals.duplicates).toBe(summary.classes.duplicate);
    expect(totals.irrelevant).toBe(summary.classes.irrelevant);
    const q = await quarantineByClass(stack);
    for (const c of [
      'unparseable',
      'pins_invalid',
      'envelope_invalid',
      'payload_invalid',
      'too_late',
      'anomaly',
    ] as const) {
      expect({ class: c, n: q[c] ?? 0 }).toEqual({ class: c, n: summary.classes[c] });
    }

    // The checkpoint rows were created by an activity through the Prisma client; read them back through it too.
    const prisma = createPrisma(stack.databaseUrl);
    const cps = await prisma.checkpoint.findMany({ orderBy: [{ stream: 'asc' }, { partition: 'asc' }] });
    await prisma.$disconnect();
    expect(cps.map((c) => `${c.stream}/${c.partition}`)).toEqual([
      'fp.bus.context.flow_anchor.fraud.v1/0',
      'fp.bus.context.flow_anchor.fraud.v1/1',
      'fp.bus.traffic.fraud.v1/0',
      'fp.bus.traffic.fraud.v1/1',
    ]);

    const gw = await stack.startGateway();
    const basis = (await stack.pool.query(`SELECT stream, partition, next_offset FROM checkpoints`)).rows;
    const inputBasis = ['fp.bus.context.flow_anchor.fraud.v1', 'fp.bus.traffic.fraud.v1'].map((stream) => ({
      stream,
      offsetKind: 'file_line',
      offsets: basis
        .filter((b) => b.stream === stream)
        .map((b) => ({ partition: b.partition, offset: String(b.next_offset) })),
    }));
    const replay = await replayBus(stack.bus, stack.policy, stack.parser, inputBasis);
    expect(replay.counts.applied).toBe(summary.classes.applied);

    // Sample keys of every group, including absent ones, at several asOf instants.
    const run = summary.runs[0];
    const keysOf = async (group: string) =>
      (
        await stack.pool.query(
          `SELECT DISTINCT key_id FROM series WHERE group_name = $1 ORDER BY key_id LIMIT 6`,
          [group],
        )
      ).rows.map((r) => r.key_id as string);
    const to = summary.eventTime!.to;
    const from = summary.eventTime!.from;
    const asOfs = [to, from, formatTimestamp((Date.parse(to) * 1000 + Date.parse(from) * 1000) / 2)];
    let compared = 0;
    for (const [group, keyType] of [
      ['merchant_velocity', 'merchant_id'],
      ['device_velocity', 'device_id'],
      ['flow_activity', 'flow_id'],
    ] as const) {
      const keys = [...(await keysOf(group)), '18446744073709551616'].map((keyId) => ({ keyType, keyId }));
      for (const asOf of asOfs) {
        const input = { pins: run, asOf, keys, groups: [{ name: group, version: 'v1' }] };
        const online = await gw.gateway.features(input, 'graphql');
        if ('code' in online) throw new Error(`${online.code}: ${online.detail}`);
        const offline = answerFromReplay(
          replay,
          stack.policy,
          validateRequest(input, stack.policy),
          inputBasis,
        );
        expect(online.content.features).toEqual(offline.features);
        expect(online.content.freshness).toEqual(offline.freshness);
        expect(online.snapshotHash).toBe(snapshotHash(offline));
        compared++;
      }
    }
    expect(compared).toBe(9);
  });

  it('stall mode stops at the invalid record; the skip update quarantines it and projection completes', async () => {
    const policyDir = tempDir('ofp-policy-');
    const policyPath = path.join(policyDir, 'features.yaml');
    fs.writeFileSync(
      policyPath,
      fs.readFileSync(DEFAULT_POLICY, 'utf8').replace('on_invalid: quarantine', 'on_invalid: stall'),
    );
    stack = await createTestStack({ policyPath });
    const summary = await generate(
      { seed: 11, count: 600, partitions: 1, payloadInvalidFraction: 0.005, progress: false },
      stack.busRoot,
    );
    expect(summary.classes.payload_invalid).toBeGreaterThan(0);
    const worker = await stack.startWorker();

    let skips = 0;
    const deadline = Date.now() + 90_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 300));
      const { rows } = await stack.pool.query(
        `SELECT stream, partition, state, next_offset, stalled_offset FROM checkpoints`,
      );
      const stalled = rows.find((r) => r.state === 'STALLED');
      if (stalled) {
        expect(stalled.stalled_offset).toBe(stalled.next_offset);
        const handle = worker.client.workflow.getHandle(
          `${stack.idPrefix}/${stalled.stream}/${stalled.partition}`,
        );
        const status = await handle.executeUpdate('skip');
        expect((status as { state: string }).state).toBe('RUNNING');
        skips++;
        continue;
      }
      const ends = await Promise.all(rows.map((r) => stack.bus.endOffset(r.stream, r.partition)));
      if (rows.length > 0 && rows.every((r, i) => r.next_offset === ends[i])) break;
      if (Date.now() > deadline) throw new Error(`stall test did not complete: ${JSON.stringify(rows)}`);
    }
    expect(skips).toBe(summary.classes.payload_invalid);
    const totals = await checkpointTotals(stack);
    expect(totals.read).toBe(summary.events);
    expect(totals.quarantined).toBe(summary.classes.payload_invalid);
    const { rows } = await stack.pool.query(
      `SELECT resolution, count(*)::int AS n FROM quarantine GROUP BY resolution`,
    );
    expect(rows).toEqual([{ resolution: 'skip', n: summary.classes.payload_invalid }]);
  });

  it('a bus file rewritten under applied offsets stalls its partition visibly; skip is refused; restore + retry completes', async () => {
    stack = await createTestStack();
    const summary = await generate({ seed: 5, count: 400, partitions: 1, progress: false }, stack.busRoot);
    const ends = busEnds(summary);
    const worker = await stack.startWorker();
    await waitProjected(stack.pool, ends, 60_000);

    // Rewrite history: the file loses its second half, below offsets the worker already applied.
    const [stream] = Object.keys(summary.streams);
    const file = partitionFilePath(stack.busRoot, stream, 0);
    const original = fs.readFileSync(file);
    const lines = original.toString('utf8').split('\n');
    fs.writeFileSync(file, lines.slice(0, Math.floor(lines.length / 2)).join('\n') + '\n');
    // The worker only reads again when records arrive: append one valid line after the shortened history.
    fs.appendFileSync(file, lines[0] + '\n');

    const end = ends.get(`${stream}/0`)!;
    let row: Record<string, unknown> | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const { rows } = await stack.pool.query(
        `SELECT state, next_offset, stalled_offset, stalled_class, stalled_reason
           FROM checkpoints WHERE stream = $1 AND partition = 0`,
        [stream],
      );
      row = rows[0];
      if (row?.state === 'STALLED') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(row).toMatchObject({
      state: 'STALLED',
      next_offset: end,
      stalled_offset: end,
      stalled_class: 'history_rewritten',
    });
    expect(row?.stalled_reason).toMatch(/bus history rewritten/);

    const handle = worker.client.workflow.getHandle(`${stack.idPrefix}/${stream}/0`);
    const status = (await handle.query('status')) as { state: string; stalled: { class: string } };
    expect(status).toMatchObject({ state: 'STALLED', stalled: { class: 'history_rewritten' } });
    // skip would quarantine a record that is not the one applied under that offset: refused, at once.
    await expect(handle.executeUpdate('skip')).rejects.toMatchObject({
      cause: { cause: { message: expect.stringMatching(/restore the partition file, then retry/) } },
    });

    fs.writeFileSync(file, original); // the operator restores the file
    const resumed = (await handle.executeUpdate('retry')) as { state: string };
    expect(resumed.state).toBe('RUNNING');
    const totals = await checkpointTotals(stack);
    expect(totals.read).toBe(summary.events);
    expect(totals.quarantined).toBe(0);
    const { rows } = await stack.pool.query(
      `SELECT state FROM checkpoints WHERE stream = $1 AND partition = 0`,
      [stream],
    );
    expect(rows[0].state).toBe('RUNNING');
  });

  it('two workers on one task queue apply every batch once', async () => {
    stack = await createTestStack();
    const summary = await generate({ ...TRAFFIC_MIX, seed: 3, count: 3000 }, stack.busRoot);
    await Promise.all([stack.startWorker(), stack.startWorker()]);
    await stack.waitCaughtUp();
    const totals = await checkpointTotals(stack);
    expect(totals.read).toBe(summary.events);
    expect(totals.applied).toBe(summary.classes.applied);
    const { rows } = await stack.pool.query(`SELECT count(*)::int AS n FROM applied_events`);
    expect(rows[0].n).toBe(summary.classes.applied);
  });
});
