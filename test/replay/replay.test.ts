/**
 * The offline replay: basis checks with one-line errors, bus history rewritten under replayed offsets, per-stream H
 * and quarantine (as the gateway reads them), parallel replay identical to sequential, and `ofp replay`'s logic.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileEventBus } from '../../src/bus/file-bus';
import { envelopeSchema, payloadSchemas } from '../../src/contracts';
import { RecordParser } from '../../src/core/envelope';
import { canonicalJson } from '../../src/core/json';
import { loadPolicyFile } from '../../src/core/policy-file';
import { snapshotHash, snapshotHashDocument } from '../../src/core/snapshot';
import { MICROS_PER_DAY, MICROS_PER_HOUR, formatTimestamp, parseTimestamp } from '../../src/core/time';
import { generate } from '../../src/generator/generate';
import { BasisArgError } from '../../src/replay/basis-arg';
import {
  ReplayBasisError,
  ReplayHistoryRewrittenError,
  answerFromReplay,
  fullBasis,
  replayBus,
  replayStateDigest,
} from '../../src/replay/replay';
import { formatReplayOutcome, replayCommand } from '../../src/replay/replay-command';
import { RequestArgError } from '../../src/replay/request-args';
import { validateRequest } from '../../src/serving/request';
import { MemoryBus } from './support/memory-bus';
import {
  ANCHOR,
  RUNS,
  TRAFFIC,
  renderEvent,
  renderInvalid,
  requestPins,
  type TestEvent,
} from './support/events';

jest.setTimeout(60_000);

const policy = loadPolicyFile(path.resolve(__dirname, '../../config/features.yaml'));
const parser = new RecordParser({ envelopeSchema, payloadSchemas });
const T0 = parseTimestamp('2026-02-06T17:00:00.000000Z')!;
const made: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-replay-test-'));
  made.push(dir);
  return dir;
};
afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const ev = (over: Partial<TestEvent>): TestEvent => ({
  run: 0,
  stream: 'anchor',
  eventId: 'e1',
  ts: T0,
  key: '42',
  amount: '10.50',
  ...over,
});

function writeBus(root: string, files: Record<string, Record<number, string[]>>): void {
  for (const [stream, parts] of Object.entries(files)) {
    fs.mkdirSync(path.join(root, stream), { recursive: true });
    for (const [p, lines] of Object.entries(parts))
      fs.writeFileSync(path.join(root, stream, `partition=${p}.jsonl`), lines.map((l) => `${l}\n`).join(''));
  }
}

const request = (over: Partial<Parameters<typeof validateRequest>[0]> = {}) =>
  validateRequest(
    {
      pins: requestPins(0),
      asOf: formatTimestamp(T0 + MICROS_PER_HOUR),
      keys: [{ keyType: 'merchant_id', keyId: '42' }],
      groups: [{ name: 'merchant_velocity', version: 'v1' }],
      ...over,
    },
    policy,
  );

describe('replayBus: the basis must be on the bus', () => {
  const bus = new MemoryBus({ [ANCHOR]: { 0: [renderEvent(ev({}))], 1: [] } });

  it.each([
    [
      [{ stream: ANCHOR, offsetKind: 'file_line', offsets: [{ partition: 0, offset: '2' }] }],
      `${ANCHOR}/0: basis offset 2 is beyond the bus end 1`,
    ],
    [
      [{ stream: ANCHOR, offsetKind: 'file_line', offsets: [{ partition: 3, offset: '1' }] }],
      `${ANCHOR}: partition 3 does not exist on the bus at memory (it has 0, 1)`,
    ],
    [
      [{ stream: 'no.such.stream', offsetKind: 'file_line', offsets: [{ partition: 0, offset: '1' }] }],
      'no.such.stream: partition 0 does not exist on the bus at memory (the stream has no partition there)',
    ],
    [
      [{ stream: ANCHOR, offsetKind: 'kafka_offset', offsets: [{ partition: 0, offset: '1' }] }],
      `${ANCHOR}: basis offset kind kafka_offset is not this bus's file_line`,
    ],
    [
      [
        {
          stream: ANCHOR,
          offsetKind: 'file_line',
          offsets: [
            { partition: 0, offset: '1' },
            { partition: 0, offset: '1' },
          ],
        },
      ],
      `${ANCHOR}: partition 0 named twice`,
    ],
    [
      [{ stream: ANCHOR, offsetKind: 'file_line', offsets: [{ partition: 0, offset: 'x' }] }],
      `${ANCHOR}/0: offset "x" is not a non-negative integer`,
    ],
  ])('refuses %j', async (basis, message) => {
    const err = await replayBus(bus, policy, parser, basis).catch((e) => e);
    expect(err).toBeInstanceOf(ReplayBasisError);
    expect(err.message).toContain(message);
  });

  it('accepts offset 0 for a partition the bus does not have (nothing to replay there)', async () => {
    const state = await replayBus(bus, policy, parser, [
      {
        stream: ANCHOR,
        offsetKind: 'file_line',
        offsets: [
          { partition: 0, offset: '1' },
          { partition: 5, offset: '0' },
        ],
      },
    ]);
    expect(state.counts.applied).toBe(1);
  });
});

describe('replayBus: bus history rewritten', () => {
  it('reports a partition that shrank below offsets it already read, naming stream, partition and offset', async () => {
    const root = tmp();
    writeBus(root, { [ANCHOR]: { 0: [1, 2, 3, 4].map((i) => renderEvent(ev({ eventId: `e${i}` }))) } });
    const bus = new FileEventBus(root);
    const basis = await fullBasis(bus, policy);
    expect(basis).toEqual([
      { stream: ANCHOR, offsetKind: 'file_line', offsets: [{ partition: 0, offset: '4' }] },
      { stream: TRAFFIC, offsetKind: 'file_line', offsets: [] },
    ]);
    expect((await replayBus(bus, policy, parser, basis)).counts.applied).toBe(4);
    // The history under the applied offsets is rewritten: the file loses its last two lines.
    writeBus(root, { [ANCHOR]: { 0: [1, 2].map((i) => renderEvent(ev({ eventId: `e${i}` }))) } });
    const err = await replayBus(bus, policy, parser, basis).catch((e) => e);
    expect(err).toBeInstanceOf(ReplayHistoryRewrittenError);
    expect(err.message).toMatch(
      new RegExp(
        `^bus history rewritten: ${ANCHOR.replace(/\./g, '\\.')} partition 0 changed below offset 4 \\(file has \\d+ bytes`,
      ),
    );
    expect(err.message).not.toContain('\n');
    // A fresh reader knows nothing of the old history: the basis is then simply beyond the bus end.
    const fresh = await replayBus(new FileEventBus(root), policy, parser, basis).catch((e) => e);
    expect(fresh).toBeInstanceOf(ReplayBasisError);
    expect(fresh.message).toContain(
      'basis offset 4 is beyond the bus end 2 (the basis names records this bus does not have: another bus, or history rewritten below an applied offset)',
    );
    await bus.close();
  });
});

describe('answerFromReplay reads H and quarantine per stream, like the gateway', () => {
  // The traffic stream runs 10 days ahead of the anchor stream: anchor reads are not refused because of it.
  const bus = new MemoryBus({
    [ANCHOR]: { 0: [renderEvent(ev({})), renderInvalid('payload_invalid', ev({ eventId: 'bad' }))] },
    [TRAFFIC]: {
      0: [renderEvent(ev({ stream: 'traffic', eventId: 't1', ts: T0 + 10 * MICROS_PER_DAY, key: '5' }))],
    },
  });
  const basis = bus.basis([ANCHOR, TRAFFIC]);

  it('H covers only the streams the groups read', async () => {
    const state = await replayBus(bus, policy, parser, basis);
    const anchorOnly = answerFromReplay(state, policy, request(), basis);
    expect(anchorOnly.features[0].values.find((v) => v.name === 'flow_count_24h')?.value).toEqual({
      kind: 'count',
      value: 1,
    });
    expect(anchorOnly.inputBasis.map((b) => b.stream)).toEqual([ANCHOR]);
    expect(() =>
      answerFromReplay(
        state,
        policy,
        request({
          groups: [
            { name: 'merchant_velocity', version: 'v1' },
            { name: 'flow_activity', version: 'v1' },
          ],
        }),
        basis,
      ),
    ).toThrow(/RETENTION_BOUNDARY_EXCEEDED/);
  });

  it('QUARANTINE_PRESENT covers only the streams the groups read', async () => {
    const state = await replayBus(bus, policy, parser, basis);
    expect(answerFromReplay(state, policy, request(), basis).freshness.flags).toContain('QUARANTINE_PRESENT');
    const traffic = request({
      asOf: formatTimestamp(T0 + 10 * MICROS_PER_DAY),
      keys: [{ keyType: 'flow_id', keyId: '5' }],
      groups: [{ name: 'flow_activity', version: 'v1' }],
    });
    expect(answerFromReplay(state, policy, traffic, basis).freshness).toEqual({ state: 'GREEN', flags: [] });
  });

  it('a run known only from streams the groups do not read is answered with NO_DATA, not NOT_FOUND', async () => {
    const trafficOnly = new MemoryBus({
      [ANCHOR]: { 0: [] },
      [TRAFFIC]: { 0: [renderEvent(ev({ stream: 'traffic', eventId: 't1', key: '5' }))] },
    });
    const b = trafficOnly.basis([ANCHOR, TRAFFIC]);
    const state = await replayBus(trafficOnly, policy, parser, b);
    const content = answerFromReplay(state, policy, request(), b);
    expect(content.features[0]).toMatchObject({ status: 'NO_DATA', lastEventTsUtc: null });
  });

  it('NOT_FOUND for runs with nothing applied, also when their records were quarantined', async () => {
    const state = await replayBus(bus, policy, parser, basis);
    expect(() => answerFromReplay(state, policy, request({ pins: requestPins(1) }), basis)).toThrow(
      /NOT_FOUND/,
    );
    const quarantinedOnly = new MemoryBus({
      [ANCHOR]: { 0: [renderInvalid('envelope_invalid', ev({ run: 1 }))] },
    });
    const q = await replayBus(quarantinedOnly, policy, parser, quarantinedOnly.basis([ANCHOR]));
    expect([...q.quarantinedOnly.values()].map((x) => x.pins.seed)).toEqual([RUNS[1].seed]);
    expect(() =>
      answerFromReplay(q, policy, request({ pins: requestPins(1) }), quarantinedOnly.basis([ANCHOR])),
    ).toThrow(/NOT_FOUND/);
  });

  it('refuses a basis that is not the one replayed, or leaves out a stream read', async () => {
    const state = await replayBus(bus, policy, parser, basis);
    expect(() =>
      answerFromReplay(state, policy, request(), [
        { stream: ANCHOR, offsetKind: 'file_line', offsets: [{ partition: 0, offset: '1' }] },
      ]),
    ).toThrow(`${ANCHOR}: the requested basis differs from the basis replayed`);
    expect(() => answerFromReplay(state, policy, request(), [basis[1]])).toThrow(
      `basis names no offsets for ${ANCHOR}, which group merchant_velocity/v1 reads`,
    );
  });
});

describe('parallel replay', () => {
  it('worker threads give exactly the state of the sequential replay', async () => {
    const root = tmp();
    await generate(
      {
        seed: 5,
        count: 4000,
        runs: 2,
        partitions: 3,
        duplicateFraction: 0.05,
        anomalyFraction: 0.01,
        outOfOrderFraction: 0.05,
        unparseableFraction: 0.01,
        tooLateFraction: 0.01,
        irrelevantFraction: 0.01,
        progress: false,
      },
      root,
    );
    const bus = new FileEventBus(root);
    const basis = await fullBasis(bus, policy);
    const sequential = await replayBus(bus, policy, parser, basis, { batchSize: 700 });
    let progress = 0;
    const parallel = await replayBus(bus, policy, parser, basis, {
      workers: 2,
      minRecordsForWorkers: 0,
      batchSize: 300,
      onProgress: (n) => (progress = n),
    });
    expect(progress).toBe(4000);
    expect(parallel.counts).toEqual(sequential.counts);
    expect(replayStateDigest(parallel)).toBe(replayStateDigest(sequential));
    await bus.close();
  });
});

describe('replayCommand (ofp replay)', () => {
  const root = tmp();
  writeBus(root, {
    [ANCHOR]: {
      0: [renderEvent(ev({})), renderEvent(ev({ eventId: 'e2', ts: T0 + 1, amount: '3' }))],
      1: [renderEvent(ev({ eventId: 'e3', key: '7' }))],
    },
  });
  const deps = { bus: new FileEventBus(root), policy, parser };
  const pinsJson = `{"platform_run_id":"${RUNS[0].platform_run_id}","scenario_run_id":"${RUNS[0].scenario_run_id}","scenario_id":"${RUNS[0].scenario_id}","manifest_fingerprint":"${RUNS[0].manifest_fingerprint}","parameter_hash":"${RUNS[0].parameter_hash}","seed":${RUNS[0].seed}}`;
  const args = {
    pins: pinsJson,
    asOf: formatTimestamp(T0 + 1),
    keys: 'merchant_id:42,merchant_id:9',
    groups: 'merchant_velocity/v1',
    basis: `${ANCHOR}:0=2,1=1`,
  };

  it('reproduces the snapshot from the bus alone (pins with a uint64 seed read without losing digits)', async () => {
    const outcome = await replayCommand(args, deps);
    if (outcome.kind !== 'snapshot') throw new Error(outcome.detail);
    expect(outcome.content.pins.seed).toBe(RUNS[0].seed);
    expect(
      outcome.content.features.map((f) => [
        f.keyId,
        f.status,
        f.values.find((v) => v.name === 'amount_sum_1h')?.value.value,
      ]),
    ).toEqual([
      ['42', 'OK', '13.5'],
      ['9', 'NO_DATA', '0'],
    ]);
    expect(outcome.snapshotHash).toBe(snapshotHash(outcome.content));
    // The same basis as JSON gives the same answer.
    const json = JSON.stringify(outcome.content.inputBasis);
    expect((await replayCommand({ ...args, basis: json }, deps)) as { snapshotHash: string }).toMatchObject({
      snapshotHash: outcome.snapshotHash,
    });
    const printed = formatReplayOutcome(outcome, 'canonical').split('\n');
    expect(printed).toEqual([canonicalJson(snapshotHashDocument(outcome.content)), outcome.snapshotHash]);
    expect(JSON.parse(formatReplayOutcome(outcome))).toEqual({
      snapshotHash: outcome.snapshotHash,
      snapshot: JSON.parse(canonicalJson(snapshotHashDocument(outcome.content))),
    });
    expect(JSON.parse(formatReplayOutcome(outcome, 'graphql')).values[0].features[0]).toEqual({
      name: 'flow_count_1h',
      value: '2',
    });
  });

  it('answers what the gateway would answer for a refused request', async () => {
    expect(
      await replayCommand({ ...args, asOf: formatTimestamp(T0 - 8 * MICROS_PER_DAY) }, deps),
    ).toMatchObject({ kind: 'error', code: 'INVALID_REQUEST' });
    expect(await replayCommand({ ...args, pins: JSON.stringify(requestPins(1)) }, deps)).toMatchObject({
      kind: 'error',
      code: 'NOT_FOUND',
    });
    expect(await replayCommand({ ...args, groups: 'merchant_velocity/v9' }, deps)).toMatchObject({
      kind: 'error',
      code: 'INVALID_REQUEST',
    });
    const err = await replayCommand({ ...args, pins: '{"seed":"7"}' }, deps);
    expect(err).toMatchObject({ kind: 'error', code: 'MISSING_PINS' });
    expect(JSON.parse(formatReplayOutcome(err))).toMatchObject({
      __typename: 'FeaturesError',
      code: 'MISSING_PINS',
      retryable: false,
    });
  });

  it.each([
    [{ basis: `${ANCHOR}:0=3` }, ReplayBasisError, `${ANCHOR}/0: basis offset 3 is beyond the bus end 2`],
    [
      { basis: `${ANCHOR}:2=1` },
      ReplayBasisError,
      `${ANCHOR}: partition 2 does not exist on the bus at /tmp/`,
    ],
    [
      { basis: `${ANCHOR}:0=2 ${TRAFFIC}:0=0` },
      BasisArgError,
      `basis names stream ${TRAFFIC}, which none of the requested groups reads`,
    ],
    [{ basis: 'nonsense' }, BasisArgError, 'basis: "nonsense" is not stream:partition=offset'],
    [{ keys: 'merchant_id' }, RequestArgError, '--keys: "merchant_id" is not keyType:keyId'],
    [{ groups: 'merchant_velocity' }, RequestArgError, '--groups: "merchant_velocity" is not name/version'],
    [{ pins: '{"seed": 7, "colour": "red"}' }, RequestArgError, '--pins: unknown pin colour'],
    [
      { pins: '/no/such/file.json' },
      RequestArgError,
      '--pins: "/no/such/file.json" is neither JSON nor a readable file (ENOENT)',
    ],
    [{ pins: '{"seed": }' }, RequestArgError, '--pins: not valid JSON'],
  ])('refuses %j with one clear line', async (over, type, message) => {
    const err = await replayCommand({ ...args, ...over }, deps).catch((e) => e);
    expect(err).toBeInstanceOf(type);
    expect(err.message).toContain(message);
    expect(err.message).not.toContain('\n');
  });
});
