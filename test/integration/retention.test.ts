/**
 * Retention pruning (SPEC 4.4) against real PostgreSQL and a real Temporal server: traffic whose event time spans
 * more than three weeks is projected, a sample of requests inside the servable range is answered, `pruneRetention`
 * runs, and the same requests must give identical answers and snapshot hashes, while the contributions and minute
 * tiles behind the window cutoff are really gone. Hour tiles stay for `key_retention`: a key whose only events are
 * behind the window cutoff still reports its `last_event_ts_utc` (STALE) after pruning.
 */
import fs from 'node:fs';
import path from 'node:path';
import { floorTo, formatTimestamp, parseTimestamp, MICROS_PER_HOUR, type Micros } from '../../src/core/time';
import type { FeatureGroup, FeaturePolicy } from '../../src/core/policy';
import type { ContextPins } from '../../src/core/pins';
import { snapshotHash, type SnapshotContent } from '../../src/core/snapshot';
import { pruneRetention } from '../../src/db/retention';
import type { Pool } from '../../src/db/pool';
import { FilePublisher } from '../../src/bus/file-publisher';
import { merchantAnchorBurst } from '../../src/generator/burst';
import { ANCHOR_STREAM } from '../../src/generator/events';
import { generate, type GenerateSummary } from '../../src/generator/generate';
import type { RunningGateway } from '../../src/runtime/gateway';
import type { RunningWorker } from '../../src/runtime/projector-worker';
import { validateRequest, type FeatureRequestInput } from '../../src/serving/request';
import { answerFromReplay, replayBus } from '../../src/replay/replay';
import { pruneScheduleId } from '../../src/workflows/messages';
import { createTestStack, DEFAULT_POLICY, type TestStack } from './support/stack';
import { temporalAddress, tempDir } from './support/services';
import { busEnds, checkpointBasis, cleanupWorkflows, tileModelCheck } from './support/projection-state';

jest.setTimeout(120_000);

/** 6,000 records over 25 days of event time, on small populations so that keys have long histories. */
const TRAFFIC = {
  count: 6000,
  duration: '25d',
  partitions: 1,
  runs: 1,
  merchants: 40,
  devices: 150,
  parties: 120,
  outOfOrderFraction: 0.05,
  outOfOrderMax: '2h',
  progress: false,
};

/** Small deterministic PRNG (mulberry32): the sample of keys and instants is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Answer = { content: SnapshotContent; snapshotHash: string } | { code: string; detail: string };

interface GroupState {
  group: FeatureGroup;
  /** Greatest applied ts_utc over the group's streams (the H of a request that reads only this group). */
  h: Micros;
  /** floor(H − horizon − longest window, 1h): window data before it can no longer be served. */
  windowCutoff: Micros;
}

async function groupStates(pool: Pool, policy: FeaturePolicy): Promise<GroupState[]> {
  const out: GroupState[] = [];
  for (const group of policy.groups) {
    const { rows } = await pool.query(
      `SELECT max(max_ts_us)::bigint AS h FROM partition_watermarks WHERE stream = ANY($1::text[])`,
      [group.streams],
    );
    const h = Number(rows[0].h);
    out.push({
      group,
      h,
      windowCutoff: floorTo(h - policy.horizonMicros - policy.longestWindowMicros, MICROS_PER_HOUR),
    });
  }
  return out;
}

/** Row counts of one group's projected state, split at its window cutoff. */
async function groupCounts(pool: Pool, g: GroupState) {
  const { rows } = await pool.query(
    `SELECT
       (SELECT count(*)::int FROM contributions c JOIN series s ON s.id = c.series_id
         WHERE s.group_name = $1 AND s.group_version = $2 AND c.ts_us < $3) AS "oldContributions",
       (SELECT count(*)::int FROM contributions c JOIN series s ON s.id = c.series_id
         WHERE s.group_name = $1 AND s.group_version = $2) AS contributions,
       (SELECT count(*)::int FROM tiles t JOIN series s ON s.id = t.series_id
         WHERE s.group_name = $1 AND s.group_version = $2 AND t.granularity_us < $4
           AND t.start_us + t.granularity_us <= $3) AS "oldMinuteTiles",
       (SELECT count(*)::int FROM tiles t JOIN series s ON s.id = t.series_id
         WHERE s.group_name = $1 AND s.group_version = $2 AND t.granularity_us < $4) AS "minuteTiles",
       (SELECT count(*)::int FROM tiles t JOIN series s ON s.id = t.series_id
         WHERE s.group_name = $1 AND s.group_version = $2 AND t.granularity_us = $4) AS "hourTiles",
       (SELECT count(*)::int FROM tiles t JOIN series s ON s.id = t.series_id
         WHERE s.group_name = $1 AND s.group_version = $2 AND t.granularity_us = $4
           AND t.start_us + t.granularity_us <= $3) AS "oldHourTiles"`,
    [g.group.name, g.group.version, g.windowCutoff, MICROS_PER_HOUR],
  );
  return rows[0] as {
    oldContributions: number;
    contributions: number;
    oldMinuteTiles: number;
    minuteTiles: number;
    hourTiles: number;
    oldHourTiles: number;
  };
}

/** The busiest keys of a group (most contributions, ties by id), then a seeded random sample of the others. */
async function sampleKeys(
  pool: Pool,
  group: FeatureGroup,
  busiest: number,
  random: number,
  rnd: () => number,
): Promise<string[]> {
  const { rows } = await pool.query(
    `SELECT s.key_id, count(c.*)::int AS n FROM series s LEFT JOIN contributions c ON c.series_id = s.id
      WHERE s.group_name = $1 AND s.group_version = $2 GROUP BY s.key_id ORDER BY n DESC, s.key_id COLLATE "C"`,
    [group.name, group.version],
  );
  const ids = rows.map((r) => r.key_id as string);
  const picked = ids.slice(0, busiest);
  const rest = ids.slice(busiest);
  for (let i = 0; i < random && rest.length > 0; i++)
    picked.push(rest.splice(Math.floor(rnd() * rest.length), 1)[0]);
  return picked;
}

/**
 * A key of the group whose every event is behind the window cutoff (the one with most events, ties by id) and its
 * greatest ts_utc, or null when there is none.
 */
async function keyOnlyBehindCutoff(
  pool: Pool,
  g: GroupState,
): Promise<{ keyId: string; lastTs: Micros } | null> {
  const { rows } = await pool.query(
    `SELECT s.key_id, max(c.ts_us)::bigint AS last_ts, count(*)::int AS n
       FROM series s JOIN contributions c ON c.series_id = s.id
      WHERE s.group_name = $1 AND s.group_version = $2
      GROUP BY s.key_id HAVING max(c.ts_us) < $3
      ORDER BY n DESC, s.key_id COLLATE "C" LIMIT 1`,
    [g.group.name, g.group.version, g.windowCutoff],
  );
  return rows.length === 0 ? null : { keyId: rows[0].key_id, lastTs: Number(rows[0].last_ts) };
}

async function ask(gw: RunningGateway, input: FeatureRequestInput): Promise<Answer> {
  const a = await gw.gateway.features(input, 'graphql');
  if ('code' in a) return { code: a.code, detail: a.detail };
  return { content: a.content, snapshotHash: a.snapshotHash };
}

function ok(a: Answer): { content: SnapshotContent; snapshotHash: string } {
  if ('code' in a) throw new Error(`${a.code}: ${a.detail}`);
  return a;
}

/** asOf instants inside [H − horizon, H]: both ends, H − 1h, an hour-aligned one and `random` seeded ones. */
function servableInstants(h: Micros, horizon: Micros, random: number, rnd: () => number): Micros[] {
  const earliest = h - horizon;
  const out = [
    h,
    h - MICROS_PER_HOUR,
    earliest,
    earliest + 1,
    floorTo(earliest, MICROS_PER_HOUR) + MICROS_PER_HOUR,
  ];
  for (let i = 0; i < random; i++) out.push(earliest + Math.floor(rnd() * horizon));
  return out;
}

/**
 * A dense hour behind the window cutoff: 40 anchors of one merchant in 20 minutes, one day into the traffic. The
 * generated traffic is too sparse for any hour of a key to pass DENSE_HOUR_EVENTS, so without these no minute tile
 * would exist to be pruned. They go to a partition of their own: lateness is judged per partition, and on the
 * traffic's partition they would come after events 24 days later (too late).
 */
const BURST = { merchantId: 999_999_999, count: 40, stepMicros: 30_000_000, partition: 1 };

async function publishDenseBurst(busRoot: string, summary: GenerateSummary): Promise<void> {
  const records = [
    ...merchantAnchorBurst({
      pins: summary.runs[0],
      merchantId: BURST.merchantId,
      from: parseTimestamp(summary.eventTime!.from)! + 24 * MICROS_PER_HOUR,
      stepMicros: BURST.stepMicros,
      count: BURST.count,
      flowIdBase: 7_000_000_000n,
      eventIdPrefix: 'dense-hour-',
    }),
  ].map((r) => ({ line: r.line, key: r.key, partition: BURST.partition }));
  await new FilePublisher(busRoot).publish(ANCHOR_STREAM, records, { partitions: BURST.partition + 1 });
}

interface Scenario {
  stack: TestStack;
  gw: RunningGateway;
  worker: RunningWorker;
  summary: GenerateSummary;
  run: ContextPins;
  groups: GroupState[];
}

/** Generates, projects to the end of the bus (no scheduled prune may interfere) and starts a gateway. */
async function projectedScenario(seed: number, policyPath?: string): Promise<Scenario> {
  const stack = await createTestStack({ policyPath });
  current = { stack };
  const summary = await generate({ ...TRAFFIC, seed }, stack.busRoot);
  current.summary = summary;
  await publishDenseBurst(stack.busRoot, summary);
  const worker = await stack.startWorker();
  // The worker schedules pruning every 10 minutes; this test prunes by itself, at a moment of its choosing.
  await worker.client.schedule.getHandle(pruneScheduleId(stack.idPrefix)).delete();
  const expected = summary.classes.applied + BURST.count;
  for (const deadline = Date.now() + 60_000; ;) {
    await stack.waitCaughtUp();
    const { rows } = await stack.pool.query(`SELECT sum(applied)::int AS applied FROM checkpoints`);
    if (rows[0].applied === expected || Date.now() > deadline) {
      expect(rows[0].applied).toBe(expected);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const gw = await stack.startGateway();
  const groups = await groupStates(stack.pool, stack.policy);
  return { stack, gw, worker, summary, run: summary.runs[0], groups };
}

let current: { stack: TestStack; summary?: GenerateSummary } | undefined;

afterEach(async () => {
  if (!current) return;
  const { stack, summary } = current;
  current = undefined;
  await stack.stop();
  const partitions = summary ? [...busEnds(summary).keys(), `${ANCHOR_STREAM}/${BURST.partition}`] : [];
  await cleanupWorkflows(temporalAddress(), stack.idPrefix, partitions);
});

/**
 * The requests of the comparison: per group, sampled keys (plus `extraKeys`) at the servable instants, one
 * request just before the earliest servable instant (refused), and requests over all groups at once.
 */
async function buildRequests(
  s: Scenario,
  rnd: () => number,
  extraKeys: Map<string, string[]>,
): Promise<FeatureRequestInput[]> {
  const { stack, run, groups } = s;
  const horizon = stack.policy.horizonMicros;
  const requests: FeatureRequestInput[] = [];
  const allKeys: { keyType: string; keyId: string }[] = [];
  for (const g of groups) {
    const ids = [
      ...(await sampleKeys(stack.pool, g.group, 6, 6, rnd)),
      ...(extraKeys.get(g.group.name) ?? []),
      '18446744073709551616',
    ];
    const keys = [...new Set(ids)].map((keyId) => ({ keyType: g.group.keyType, keyId }));
    allKeys.push(...keys.slice(0, 3));
    const groupsIn = [{ name: g.group.name, version: g.group.version }];
    for (const asOf of [...servableInstants(g.h, horizon, 4, rnd), g.h - horizon - 1]) {
      requests.push({ pins: run, asOf: formatTimestamp(asOf), keys, groups: groupsIn });
    }
  }
  const hAll = Math.max(...groups.map((g) => g.h));
  const everyGroup = groups.map((g) => ({ name: g.group.name, version: g.group.version }));
  for (const asOf of servableInstants(hAll, horizon, 2, rnd)) {
    requests.push({ pins: run, asOf: formatTimestamp(asOf), keys: allKeys, groups: everyGroup });
  }
  return requests;
}

/** Every served answer equals an offline replay of the bus at its basis (pruning or not, the bus decides). */
async function expectReplayAnswers(
  s: Scenario,
  requests: FeatureRequestInput[],
  answers: Answer[],
): Promise<number> {
  const { stack } = s;
  const basis = await checkpointBasis(stack.pool, stack.bus.offsetKind);
  const replay = await replayBus(stack.bus, stack.policy, stack.parser, basis);
  let compared = 0;
  answers.forEach((a, i) => {
    if ('code' in a) return;
    const offline = answerFromReplay(
      replay,
      stack.policy,
      validateRequest(requests[i], stack.policy),
      a.content.inputBasis,
    );
    expect({ request: i, content: offline, hash: snapshotHash(offline) }).toEqual({
      request: i,
      content: a.content,
      hash: a.snapshotHash,
    });
    compared++;
  });
  return compared;
}

function windowCount(content: SnapshotContent, window: string): number {
  let n = 0;
  for (const f of content.features) {
    for (const v of f.values)
      if (v.value.kind === 'count' && v.name.endsWith(`_${window}`) && v.value.value > 0) n++;
  }
  return n;
}

describe('retention pruning', () => {
  it('removes window data behind the cutoff and never changes an answer; hour tiles keep recency', async () => {
    const s = await projectedScenario(41);
    const { stack, gw, run, groups } = s;
    const horizon = stack.policy.horizonMicros;
    const eventTime = s.summary.eventTime!;
    expect(parseTimestamp(eventTime.to)! - parseTimestamp(eventTime.from)!).toBeGreaterThan(
      21 * 24 * MICROS_PER_HOUR,
    );

    // Keys whose only events are behind the window cutoff: their windows are empty at every servable instant, but
    // they still have a last_event_ts_utc (within key_retention), which only the hour tiles can give after pruning.
    const staleKeys = new Map<string, { keyId: string; lastTs: Micros }>();
    for (const g of groups) {
      const k = await keyOnlyBehindCutoff(stack.pool, g);
      if (k) staleKeys.set(g.group.name, k);
    }
    expect(staleKeys.has('flow_activity')).toBe(true);
    expect(staleKeys.size).toBeGreaterThanOrEqual(3);

    const rnd = prng(20260206);
    const requests = await buildRequests(s, rnd, new Map([...staleKeys].map(([g, k]) => [g, [k.keyId]])));
    const before = await Promise.all(requests.map((r) => ask(gw, r)));

    // The sample is not trivial: answers at the earliest servable instant have non-empty 7d windows (which reach
    // back to the cutoff), the instant just before it is refused, and some keys are STALE.
    const served = before.filter((a) => !('code' in a)).map(ok);
    const refused = before.filter((a): a is { code: string; detail: string } => 'code' in a);
    expect(refused).toHaveLength(groups.length);
    for (const r of refused) {
      expect(r.code).toBe('INVALID_REQUEST');
      expect(r.detail).toMatch(/^RETENTION_BOUNDARY_EXCEEDED/);
    }
    expect(served.reduce((n, a) => n + windowCount(a.content, '7d'), 0)).toBeGreaterThan(50);
    for (const g of groups) {
      const earliest = served.find(
        (a) =>
          a.content.asOfUtc === formatTimestamp(g.h - horizon) &&
          a.content.featureGroups.length === 1 &&
          a.content.featureGroups[0].name === g.group.name,
      )!;
      expect({ group: g.group.name, nonEmpty7d: windowCount(earliest.content, '7d') > 0 }).toEqual({
        group: g.group.name,
        nonEmpty7d: true,
      });
    }
    const statuses = new Set(served.flatMap((a) => a.content.features.map((f) => f.status)));
    expect([...statuses].sort()).toEqual(['NO_DATA', 'OK', 'STALE']);

    const tiles = await tileModelCheck(stack.pool);
    expect(tiles.violations).toEqual([]);
    expect(tiles.denseHours).toBeGreaterThan(0);

    // What pruning must remove, per group.
    const countsBefore = await Promise.all(groups.map((g) => groupCounts(stack.pool, g)));
    const expectedContributions = countsBefore.reduce((n, c) => n + c.oldContributions, 0);
    const expectedTiles = countsBefore.reduce((n, c) => n + c.oldMinuteTiles, 0);
    expect(expectedContributions).toBeGreaterThan(0);
    expect(expectedTiles).toBeGreaterThan(0);

    const result = await pruneRetention(stack.pool, stack.policy);
    // key_retention (400d) is far longer than the traffic, so only contributions and minute tiles go.
    expect(result).toEqual({ contributions: expectedContributions, tiles: expectedTiles });

    const countsAfter = await Promise.all(groups.map((g) => groupCounts(stack.pool, g)));
    groups.forEach((g, i) => {
      const b = countsBefore[i];
      expect({ group: g.group.name, ...countsAfter[i] }).toEqual({
        group: g.group.name,
        oldContributions: 0,
        contributions: b.contributions - b.oldContributions,
        oldMinuteTiles: 0,
        minuteTiles: b.minuteTiles - b.oldMinuteTiles,
        hourTiles: b.hourTiles,
        oldHourTiles: b.oldHourTiles,
      });
    });
    // No contribution behind its group's cutoff remains, in any group.
    const { rows: left } = await stack.pool.query(
      `SELECT s.group_name, count(*)::int AS n FROM contributions c JOIN series s ON s.id = c.series_id
        WHERE c.ts_us < (SELECT x.cutoff FROM unnest($1::text[], $2::bigint[]) AS x(g, cutoff) WHERE x.g = s.group_name)
        GROUP BY 1`,
      [groups.map((g) => g.group.name), groups.map((g) => g.windowCutoff)],
    );
    expect(left).toEqual([]);

    // Same requests, same answers, same hashes.
    const after = await Promise.all(requests.map((r) => ask(gw, r)));
    expect(after).toHaveLength(before.length);
    after.forEach((a, i) => {
      expect({ request: i, answer: a }).toEqual({ request: i, answer: before[i] });
    });

    expect(await expectReplayAnswers(s, requests, after)).toBe(served.length);

    // The stale keys: no contribution left, their recency comes from the hour tiles.
    for (const [groupName, k] of staleKeys) {
      const g = groups.find((x) => x.group.name === groupName)!;
      const { rows } = await stack.pool.query(
        `SELECT count(*)::int AS n FROM contributions c JOIN series s ON s.id = c.series_id
          WHERE s.group_name = $1 AND s.key_id = $2`,
        [groupName, k.keyId],
      );
      expect(rows[0].n).toBe(0);
      for (const asOf of [g.h, g.h - horizon]) {
        const a = ok(
          await ask(gw, {
            pins: run,
            asOf: formatTimestamp(asOf),
            keys: [{ keyType: g.group.keyType, keyId: k.keyId }],
            groups: [{ name: g.group.name, version: g.group.version }],
          }),
        );
        const entry = a.content.features[0];
        expect({ group: groupName, status: entry.status, lastEventTsUtc: entry.lastEventTsUtc }).toEqual({
          group: groupName,
          status: 'STALE',
          lastEventTsUtc: formatTimestamp(k.lastTs),
        });
        expect(entry.values.filter((v) => v.value.kind === 'count').map((v) => v.value.value)).toEqual([
          0, 0, 0,
        ]);
      }
    }

    // Pruning again finds nothing more to remove.
    expect(await pruneRetention(stack.pool, stack.policy)).toEqual({ contributions: 0, tiles: 0 });
  });

  it('keeps the hour tiles that servable windows read when key_retention is shorter than their reach', async () => {
    // key_retention 10d < horizon + longest window (14d 1h): hour tiles between the two are still read by 7d
    // windows at the earliest servable instants and must survive.
    const policyDir = tempDir('ofp-policy-');
    const policyPath = path.join(policyDir, 'features.yaml');
    fs.writeFileSync(
      policyPath,
      fs.readFileSync(DEFAULT_POLICY, 'utf8').replace('key_retention: 400d', 'key_retention: 10d'),
    );
    const s = await projectedScenario(43, policyPath);
    const { stack, gw, groups } = s;
    expect(stack.policy.keyRetention).toBe('10d');

    const rnd = prng(43);
    const requests = await buildRequests(s, rnd, new Map());
    const before = await Promise.all(requests.map((r) => ask(gw, r)));
    expect(
      before
        .filter((a) => !('code' in a))
        .map(ok)
        .reduce((n, a) => n + windowCount(a.content, '7d'), 0),
    ).toBeGreaterThan(50);

    const countsBefore = await Promise.all(groups.map((g) => groupCounts(stack.pool, g)));
    const result = await pruneRetention(stack.pool, stack.policy);
    // key_retention (10d) ends after the window cutoff, so the hour tiles behind the cutoff go as well.
    expect(result).toEqual({
      contributions: countsBefore.reduce((n, c) => n + c.oldContributions, 0),
      tiles: countsBefore.reduce((n, c) => n + c.oldMinuteTiles + c.oldHourTiles, 0),
    });
    expect(countsBefore.reduce((n, c) => n + c.oldHourTiles, 0)).toBeGreaterThan(0);
    const after = await Promise.all(requests.map((r) => ask(gw, r)));
    after.forEach((a, i) => {
      expect({ request: i, answer: a }).toEqual({ request: i, answer: before[i] });
    });

    expect(await expectReplayAnswers(s, requests, after)).toBeGreaterThan(0);

    const countsAfter = await Promise.all(groups.map((g) => groupCounts(stack.pool, g)));
    groups.forEach((g, i) => {
      const b = countsBefore[i];
      const a = countsAfter[i];
      expect({ group: g.group.name, old: [a.oldContributions, a.oldMinuteTiles, a.oldHourTiles] }).toEqual({
        group: g.group.name,
        old: [0, 0, 0],
      });
      // Hour tiles after the window cutoff are all still there.
      expect({ group: g.group.name, servableHourTiles: a.hourTiles - a.oldHourTiles }).toEqual({
        group: g.group.name,
        servableHourTiles: b.hourTiles - b.oldHourTiles,
      });
    });
  });
});
