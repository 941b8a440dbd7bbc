/**
 * Window reads over the tile model (src/core/windows.ts) against the offline replay: the busiest keys of every group
 * (dense hours, read from minute tiles) and ordinary ones (sparse hours, read from their events), at instants that
 * put window edges on and beside hour and minute boundaries, including windows made of whole hours only.
 */
import { FilePublisher } from '../../src/bus/file-publisher';
import { snapshotHash } from '../../src/core/snapshot';
import {
  MICROS_PER_HOUR,
  MICROS_PER_MINUTE,
  floorTo,
  formatTimestamp,
  parseTimestamp,
} from '../../src/core/time';
import { merchantAnchorBurst } from '../../src/generator/burst';
import { ANCHOR_STREAM } from '../../src/generator/events';
import { generate } from '../../src/generator/generate';
import { answerFromReplay, replayBus } from '../../src/replay/replay';
import { servingMetrics } from '../../src/metrics/serving-metrics';
import { FeaturesRequestError } from '../../src/serving/errors';
import { FeatureReader } from '../../src/serving/feature-reader';
import { Gateway } from '../../src/serving/gateway-services';
import { validateRequest, type FeatureRequestInput } from '../../src/serving/request';
import { createTestStack, type TestStack } from './support/stack';
import { checkpointBasis, tileModelCheck } from './support/projection-state';

jest.setTimeout(180_000);

const HOT_MERCHANT = 999_999_999;
/** On a partition of its own: lateness is judged per partition, so it may start before the traffic ends. */
const BURST_PARTITION = 1;

let stack: TestStack;
afterAll(async () => stack?.stop());

test('windows read from hour tiles, minute tiles and events equal the offline replay', async () => {
  stack = await createTestStack();
  const summary = await generate(
    { seed: 404, count: 3000, rate: 4, partitions: 1, runs: 1, progress: false },
    stack.busRoot,
  );
  const run = summary.runs[0];
  const from = parseTimestamp(summary.eventTime!.from)!;
  const to = parseTimestamp(summary.eventTime!.to)!;
  // 120 anchors of one merchant, 20 s apart, across the hour boundary that follows the traffic's start by an hour.
  const boundary = floorTo(from, MICROS_PER_HOUR) + MICROS_PER_HOUR;
  const burst = [
    ...merchantAnchorBurst({
      pins: run,
      merchantId: HOT_MERCHANT,
      from: boundary - 30 * MICROS_PER_MINUTE + 7_000_001,
      stepMicros: 20_000_000,
      count: 120,
      flowIdBase: 7_000_000_000n,
      eventIdPrefix: 'burst-',
    }),
  ];
  await new FilePublisher(stack.busRoot).publish(
    ANCHOR_STREAM,
    burst.map((r) => ({ line: r.line, key: r.key, partition: BURST_PARTITION })),
    { partitions: BURST_PARTITION + 1 },
  );
  await stack.startWorker();
  const applied = summary.classes.applied + burst.length;
  for (const deadline = Date.now() + 90_000; ;) {
    await stack.waitCaughtUp(90_000);
    const { rows } = await stack.pool.query(`SELECT sum(applied)::int AS n FROM checkpoints`);
    if (rows[0].n === applied || Date.now() > deadline) {
      expect(rows[0].n).toBe(applied);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const tiles = await tileModelCheck(stack.pool);
  expect(tiles.violations).toEqual([]);
  expect(tiles.denseHours).toBeGreaterThan(1);
  expect(tiles.sparseHours).toBeGreaterThan(0);
  // The burst's merchant has a dense hour on each side of the boundary.
  const { rows: hot } = await stack.pool.query(
    `SELECT t.start_us, t.count FROM tiles t JOIN series s ON s.id = t.series_id
      WHERE s.key_id = $1 AND s.field = 'amount' AND t.granularity_us = $2 ORDER BY t.start_us`,
    [String(HOT_MERCHANT), MICROS_PER_HOUR],
  );
  expect(hot.map((h) => [Number(h.start_us), h.count])).toEqual([
    [boundary - MICROS_PER_HOUR, 90],
    [boundary, 30],
  ]);

  const basis = await checkpointBasis(stack.pool, stack.bus.offsetKind);
  const replay = await replayBus(stack.bus, stack.policy, stack.parser, basis);
  const gw = await stack.startGateway();

  const burstEnd = burst[burst.length - 1].ts;
  const instants = [
    // Before any event, on an hour boundary: every window is whole hours with no tile at all.
    floorTo(from, MICROS_PER_HOUR) - 1,
    boundary - 1,
    boundary,
    boundary + 1,
    boundary - 25 * MICROS_PER_MINUTE - 1,
    boundary + 4 * MICROS_PER_MINUTE + 13_500_000,
    floorTo(burstEnd, MICROS_PER_MINUTE) - 1,
    burstEnd,
    to,
    Math.max(to, burstEnd) + MICROS_PER_HOUR,
  ];
  let compared = 0;
  const cases: { input: FeatureRequestInput; hash: string }[] = [];
  for (const group of stack.policy.groups) {
    const { rows } = await stack.pool.query(
      `SELECT s.key_id FROM series s JOIN contributions c ON c.series_id = s.id
        WHERE s.group_name = $1 GROUP BY s.key_id ORDER BY count(*) DESC, s.key_id COLLATE "C" LIMIT 4`,
      [group.name],
    );
    const keyIds = [
      ...rows.map((r) => r.key_id as string),
      ...(group.keyType === 'merchant_id' ? [String(HOT_MERCHANT)] : []),
      '18446744073709551616',
    ];
    const keys = keyIds.map((keyId) => ({ keyType: group.keyType, keyId }));
    for (const asOf of instants) {
      const input = {
        pins: run,
        asOf: formatTimestamp(asOf),
        keys,
        groups: [{ name: group.name, version: group.version }],
      };
      const online = await gw.gateway.features(input, 'graphql');
      if ('code' in online)
        throw new Error(`${group.name} at ${input.asOf}: ${online.code}: ${online.detail}`);
      const offline = answerFromReplay(replay, stack.policy, validateRequest(input, stack.policy), basis);
      expect({ group: group.name, asOf: input.asOf, features: online.content.features }).toEqual({
        group: group.name,
        asOf: input.asOf,
        features: offline.features,
      });
      expect(online.snapshotHash).toBe(snapshotHash(offline));
      cases.push({ input, hash: online.snapshotHash });
      compared++;
    }
  }
  expect(compared).toBe(stack.policy.groups.length * instants.length);

  // The same requests all at once, through a reader that runs one statement at a time, so that they share
  // statements; mixed in, requests that must fail (an unknown run, an asOf before the retention boundary). Each
  // gets exactly the answer it got alone, whatever it shared a statement with.
  const coalescing = new Gateway(stack.pool, stack.policy, stack.bus, undefined, undefined, {
    maxConcurrentReads: 1,
  });
  const unknownRun = { ...cases[0].input, pins: { ...run, scenarioId: 'no-such-scenario' } };
  const beforeRetention = { ...cases[1].input, asOf: formatTimestamp(from - 400 * 24 * MICROS_PER_HOUR) };
  const inputs = cases.flatMap((c, i) => (i === 7 ? [c.input, unknownRun, beforeRetention] : [c.input]));
  const statementsBefore = await readStatements();
  const answers = await Promise.all(inputs.map((input) => coalescing.features(input, 'http')));
  const statements = (await readStatements()) - statementsBefore;
  expect(statements).toBeGreaterThan(0);
  expect(statements).toBeLessThan(inputs.length / 4);
  const outcome = (a: (typeof answers)[number]) => ('code' in a ? a.code : a.snapshotHash);
  expect(answers.map(outcome)).toEqual(
    inputs.map((input) =>
      input === unknownRun
        ? 'NOT_FOUND'
        : input === beforeRetention
          ? 'INVALID_REQUEST'
          : cases.find((c) => c.input === input)!.hash,
    ),
  );

  // A request the database refuses (a key id PostgreSQL text cannot hold; validation refuses it, so it is built by
  // hand here) fails alone: the requests that shared its statement are read again one by one and answered.
  const reader = new FeatureReader(stack.pool, stack.policy, stack.bus.offsetKind, { maxConcurrentReads: 1 });
  const requests = cases.slice(0, 6).map((c) => validateRequest(c.input, stack.policy));
  const refused = { ...requests[3], keys: [{ ...requests[3].keys[0], keyId: 'bad\u0000key' }] };
  const settled = await Promise.allSettled(
    [...requests.slice(0, 3), refused, ...requests.slice(3)].map((r) => reader.read(r)),
  );
  const outcomeOf = (s: (typeof settled)[number]) =>
    s.status === 'fulfilled' ? snapshotHash(s.value.content) : (s.reason as FeaturesRequestError).code;
  expect(settled.map(outcomeOf)).toEqual([
    ...cases.slice(0, 3).map((c) => c.hash),
    'UNAVAILABLE',
    ...cases.slice(3, 6).map((c) => c.hash),
  ]);
});

/** Read statements run so far in this process (the count of the read-batch histogram). */
async function readStatements(): Promise<number> {
  const metric = await servingMetrics.readBatch.get();
  return metric.values.find((v) => v.metricName === 'ofp_read_batch_requests_count')?.value ?? 0;
}
