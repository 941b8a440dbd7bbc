import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseLossless, isLosslessNumber, type LosslessNumber } from 'lossless-json';
import { partitionFor } from '../../src/bus/partitioner';
import { FileEventBus } from '../../src/bus/file-bus';
import { PIN_PATTERNS, isUint64Text } from '../../src/core/pins';
import { parseTimestamp, MICROS_PER_HOUR, MICROS_PER_MINUTE } from '../../src/core/time';
import {
  ANCHOR_EVENT_TYPE,
  ANCHOR_STREAM,
  TRAFFIC_EVENT_TYPE,
  TRAFFIC_STREAM,
  generate,
  generateToLines,
  type GenerateOptions,
} from '../../src/generator/generate';
import { ProgressBar } from '../../src/generator/progress';
import { envelopeSchema, payloadSchemas } from '../../src/contracts';
import { RecordParser } from '../../src/core/envelope';
import { loadPolicyFile } from '../../src/core/policy-file';
import { StateOverlay, classifyInOrder, prepareRecord } from '../../src/core/projection';
import { deriveRuns } from '../../src/generator/runs';
import { Prng, parseSeed } from '../../src/generator/prng';
import { LineBuffer } from '../../src/bus/line-buffer';
import { renderEvent, writeEvent } from '../../src/generator/events';
import { resolveOptions } from '../../src/generator/options';
import { TrafficModel } from '../../src/generator/traffic';

type Obj = Record<string, unknown>;

const roots: string[] = [];
function tmpRoot(): string {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-generate-'));
  roots.push(r);
  return r;
}
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

/** Every file under a bus root, relative path → bytes. */
function snapshot(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const stream of fs.readdirSync(root).sort()) {
    for (const f of fs.readdirSync(path.join(root, stream)).sort()) {
      out.set(`${stream}/${f}`, fs.readFileSync(path.join(root, stream, f)));
    }
  }
  return out;
}

function parse(line: string): Obj {
  return parseLossless(line) as Obj;
}

function num(v: unknown): string {
  if (!isLosslessNumber(v)) throw new Error(`not a number: ${String(v)}`);
  return (v as LosslessNumber).value;
}

/**
 * Collects failed checks so that a loop over thousands of records makes a single assertion at the end
 * (an expect() per record would dominate the test's run time) while still naming every failure.
 */
class Checks {
  readonly failures: string[] = [];
  ok(condition: boolean, what: () => string): void {
    if (!condition && this.failures.length < 20) this.failures.push(what());
  }
  eq(actual: unknown, expected: unknown, what: string): void {
    this.ok(actual === expected, () => `${what}: ${String(actual)} !== ${String(expected)}`);
  }
}

const ALL_INVALID: GenerateOptions = {
  unparseableFraction: 0.02,
  pinsInvalidFraction: 0.02,
  envelopeInvalidFraction: 0.02,
  payloadInvalidFraction: 0.02,
  tooLateFraction: 0.02,
  irrelevantFraction: 0.02,
  duplicateFraction: 0.03,
  anomalyFraction: 0.02,
  outOfOrderFraction: 0.05,
};

describe('generate: determinism', () => {
  it('same options → byte-identical partition files; the batch size does not matter', async () => {
    const options: GenerateOptions = { count: 6000, runs: 3, seed: '18446744073709551615', ...ALL_INVALID };
    const a = tmpRoot();
    const b = tmpRoot();
    await generate({ ...options, batchSize: 20_000 }, a);
    await generate({ ...options, batchSize: 97 }, b);
    const sa = snapshot(a);
    const sb = snapshot(b);
    expect([...sa.keys()]).toEqual([...sb.keys()]);
    for (const [k, bytes] of sa) expect(bytes.equals(sb.get(k) as Buffer)).toBe(true);
  });

  it('writes exactly what generateToLines returns', async () => {
    const options: GenerateOptions = { count: 3000, runs: 2, ...ALL_INVALID };
    const root = tmpRoot();
    await generate(options, root);
    const { files } = generateToLines(options);
    const files2 = snapshot(root);
    let n = 0;
    for (const [stream, parts] of Object.entries(files)) {
      for (const [p, lines] of Object.entries(parts)) {
        expect(files2.get(`${stream}/partition=${p}.jsonl`)?.toString('utf8')).toBe(
          lines.map((l) => l + '\n').join(''),
        );
        n++;
      }
    }
    expect(files2.size).toBe(n);
  });

  it('a different seed gives different traffic and different pins', () => {
    const a = generateToLines({ count: 500, seed: 1 });
    const b = generateToLines({ count: 500, seed: 2 });
    expect(a.emissions.map((e) => e.line)).not.toEqual(b.emissions.map((e) => e.line));
    expect(a.summary.runs[0].scenarioRunId).not.toBe(b.summary.runs[0].scenarioRunId);
  });

  it('appends to an existing bus rather than replacing it', async () => {
    const root = tmpRoot();
    await generate({ count: 100, partitions: 1 }, root);
    await generate({ count: 100, partitions: 1 }, root);
    const bus = new FileEventBus(root);
    const total = (await bus.endOffset(ANCHOR_STREAM, 0)) + (await bus.endOffset(TRAFFIC_STREAM, 0));
    expect(total).toBe(200);
    await bus.close();
  });
});

describe('generate: runs and pins', () => {
  it('derives well-formed pins per run; run 0 has a seed above 2^53, run 1 a small one', () => {
    const runs = deriveRuns(parseSeed('42'), 5, parseTimestamp('2026-02-06T17:00:00.000000Z') as number);
    expect(new Set(runs.map((r) => r.pins.scenarioRunId)).size).toBe(5);
    for (const { pins } of runs) {
      expect(pins.platformRunId).toMatch(PIN_PATTERNS.platformRunId);
      expect(pins.scenarioRunId).toMatch(PIN_PATTERNS.scenarioRunId);
      expect(pins.manifestFingerprint).toMatch(PIN_PATTERNS.manifestFingerprint);
      expect(pins.parameterHash).toMatch(PIN_PATTERNS.parameterHash);
      expect(pins.runId).toMatch(PIN_PATTERNS.runId);
      expect(isUint64Text(pins.seed)).toBe(true);
      expect(pins.scenarioId.length).toBeGreaterThan(0);
    }
    expect(BigInt(runs[0].pins.seed)).toBeGreaterThan(2n ** 53n);
    expect(BigInt(runs[1].pins.seed)).toBeLessThan(1_000_000n);
    expect(runs[0].pins.platformRunId).toBe('platform_20260206T160000Z');
    expect(deriveRuns(parseSeed('42'), 5, 0).map((r) => r.pins.seed)).toEqual(runs.map((r) => r.pins.seed));
  });

  it('writes the seed as a JSON integer with every digit, in the envelope and the payload', () => {
    const { emissions, summary } = generateToLines({ count: 50, seed: 3 });
    const seed = summary.runs[0].seed;
    expect(BigInt(seed)).toBeGreaterThan(2n ** 53n);
    const c = new Checks();
    for (const e of emissions) {
      c.ok(e.line.includes(`,"seed":${seed},`), () => `seed text missing in ${e.line}`);
      const env = parse(e.line);
      c.eq(num(env.seed), seed, 'envelope seed');
      c.eq(num((env.payload as Obj).seed), seed, 'payload seed');
    }
    expect(c.failures).toEqual([]);
  });
});

describe('generate: valid traffic', () => {
  const { emissions, summary, files } = generateToLines({ count: 20_000, runs: 3, partitions: 8, seed: 11 });
  const parsed = emissions.map((e) => ({ e, env: parse(e.line) }));

  it('writes exactly `count` records, counted per stream and partition', () => {
    expect(summary.events).toBe(20_000);
    expect(summary.classes.applied).toBe(20_000);
    let total = 0;
    for (const [stream, s] of Object.entries(summary.streams)) {
      for (const [p, n] of Object.entries(s.partitions)) {
        expect(files[stream][Number(p)]).toHaveLength(n);
        total += n;
      }
    }
    expect(total).toBe(20_000);
  });

  it('anchors and events carry their stream’s event_type, the run’s pins and every required payload field', () => {
    const runs = new Map(summary.runs.map((r) => [r.scenarioRunId, r]));
    const anchorFields = [
      'flow_id',
      'arrival_seq',
      'merchant_id',
      'party_id',
      'account_id',
      'instrument_id',
      'device_id',
      'ip_id',
      'ts_utc',
      'amount',
      'seed',
      'manifest_fingerprint',
      'parameter_hash',
      'scenario_id',
      'fraud_flag',
      'campaign_id',
    ];
    const eventFields = [
      'flow_id',
      'event_seq',
      'event_type',
      'ts_utc',
      'amount',
      'seed',
      'manifest_fingerprint',
      'parameter_hash',
      'scenario_id',
      'fraud_flag',
      'campaign_id',
    ];
    const c = new Checks();
    for (const { e, env } of parsed) {
      const payload = env.payload as Obj;
      const anchor = e.stream === ANCHOR_STREAM;
      const where = `${e.stream}/${e.partition} ${e.line.slice(0, 60)}`;
      c.eq(env.event_type, anchor ? ANCHOR_EVENT_TYPE : TRAFFIC_EVENT_TYPE, `event_type ${where}`);
      c.eq(
        Object.keys(payload).sort().join(),
        (anchor ? anchorFields : eventFields).slice().sort().join(),
        `fields ${where}`,
      );
      c.ok(/^[0-9a-f]{32}$/.test(env.event_id as string), () => `event_id ${where}`);
      c.ok(parseTimestamp(env.ts_utc) !== null, () => `ts_utc ${where}`);
      c.eq(payload.ts_utc, env.ts_utc, `payload.ts_utc ${where}`);
      const pins = runs.get(env.scenario_run_id as string);
      c.ok(pins !== undefined, () => `unknown run ${where}`);
      c.eq(env.platform_run_id, pins?.platformRunId, `platform_run_id ${where}`);
      c.eq(env.manifest_fingerprint, pins?.manifestFingerprint, `manifest_fingerprint ${where}`);
      c.eq(payload.manifest_fingerprint, pins?.manifestFingerprint, `payload.manifest_fingerprint ${where}`);
      c.eq(payload.parameter_hash, pins?.parameterHash, `payload.parameter_hash ${where}`);
      c.eq(payload.scenario_id, pins?.scenarioId, `payload.scenario_id ${where}`);
      c.ok(/^[1-9][0-9]*$/.test(num(payload.flow_id)), () => `flow_id ${where}`);
      c.eq(typeof payload.fraud_flag, 'boolean', `fraud_flag ${where}`);
      c.ok(
        payload.campaign_id === null || typeof payload.campaign_id === 'string',
        () => `campaign_id ${where}`,
      );
    }
    expect(c.failures).toEqual([]);
  });

  it('writes amounts as JSON numbers with exactly two fraction digits', () => {
    const bad = parsed.filter(({ e }) => !/"amount":[0-9]+\.[0-9]{2}[,}]/.test(e.line));
    expect(bad).toEqual([]);
  });

  it('has unique event_ids per run and event type', () => {
    const ids = new Set(parsed.map(({ env }) => `${env.scenario_run_id}/${env.event_type}/${env.event_id}`));
    expect(ids.size).toBe(parsed.length);
  });

  it('routes by payload.flow_id: every event of a flow is on partition partitionFor(flow_id) of each stream', () => {
    const c = new Checks();
    for (const { e, env } of parsed) {
      const flowId = num((env.payload as Obj).flow_id);
      c.eq(e.key, flowId, 'key');
      c.eq(e.partition, partitionFor(flowId, 8), `partition of flow ${flowId}`);
    }
    expect(c.failures).toEqual([]);
  });

  it('uses flow ids above 2^53 (run 0) that survive exactly', () => {
    const big = parsed.filter(({ env }) => BigInt(num((env.payload as Obj).flow_id)) > 2n ** 53n);
    expect(big.length).toBeGreaterThan(0);
  });

  it('follows each anchor with 1-4 events of its flow, later in event time', () => {
    const anchors = new Map<string, number>();
    const events = new Map<string, number[]>();
    const c = new Checks();
    for (const { env } of parsed) {
      const p = env.payload as Obj;
      const key = `${env.scenario_run_id}/${num(p.flow_id)}`;
      const ts = parseTimestamp(env.ts_utc) as number;
      if (env.event_type === ANCHOR_EVENT_TYPE) anchors.set(key, ts);
      else {
        c.ok(anchors.has(key), () => `event of ${key} published before its anchor`);
        c.ok(ts > (anchors.get(key) as number), () => `event of ${key} not later than its anchor`);
        events.set(key, [...(events.get(key) ?? []), Number(num(p.event_seq))]);
      }
    }
    for (const [key, seqs] of events) {
      c.ok(seqs.length <= 4, () => `${key} has ${seqs.length} events`);
      c.eq(seqs.join(), seqs.map((_, i) => i).join(), `event_seq of ${key}`);
    }
    expect(c.failures).toEqual([]);
    expect(events.size / anchors.size).toBeGreaterThan(0.9); // only the last flows can miss their events
  });

  it('publishes each stream in event-time order when no out-of-order fraction is asked for', () => {
    let backwards = 0;
    for (const parts of Object.values(files)) {
      for (const lines of Object.values(parts)) {
        const ts = lines.map((l) => parseTimestamp(parse(l).ts_utc) as number);
        for (let i = 1; i < ts.length; i++) if (ts[i] < ts[i - 1]) backwards++;
      }
    }
    expect(backwards).toBe(0);
  });

  it('draws merchants and devices with skew: a few are hot', () => {
    const perMerchant = new Map<string, number>();
    for (const { env } of parsed) {
      if (env.event_type !== ANCHOR_EVENT_TYPE) continue;
      const m = num((env.payload as Obj).merchant_id);
      perMerchant.set(m, (perMerchant.get(m) ?? 0) + 1);
    }
    const counts = [...perMerchant.values()].sort((a, b) => b - a);
    const median = counts[Math.floor(counts.length / 2)];
    expect(counts[0]).toBeGreaterThan(20 * median);
  });

  it('includes fraud campaigns: bursts of fraud flows on a few devices, with higher amounts', () => {
    const byCampaign = new Map<string, { devices: Set<string>; amounts: number[] }>();
    const normal: number[] = [];
    for (const { env } of parsed) {
      if (env.event_type !== ANCHOR_EVENT_TYPE) continue;
      const p = env.payload as Obj;
      const amount = Number(num(p.amount));
      if (p.campaign_id === null) {
        normal.push(amount);
        continue;
      }
      expect(p.fraud_flag).toBe(true);
      const c = byCampaign.get(p.campaign_id as string) ?? { devices: new Set(), amounts: [] };
      c.devices.add(num(p.device_id));
      c.amounts.push(amount);
      byCampaign.set(p.campaign_id as string, c);
    }
    expect(summary.campaigns).toBeGreaterThan(0);
    expect(byCampaign.size).toBe(summary.campaigns);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const c of byCampaign.values()) expect(c.devices.size).toBeLessThanOrEqual(3);
    expect(mean([...byCampaign.values()].flatMap((c) => c.amounts))).toBeGreaterThan(2 * mean(normal));
  });

  it('spans the requested event time: rate × duration', () => {
    const r = generateToLines({ rate: 50, duration: '10m', seed: 5 });
    expect(r.summary.events).toBe(30_000);
    const from = parseTimestamp(r.summary.eventTime?.from) as number;
    const to = parseTimestamp(r.summary.eventTime?.to) as number;
    expect(from).toBe(parseTimestamp('2026-02-06T17:00:00.000000Z'));
    expect(to - from).toBeGreaterThan(8 * MICROS_PER_MINUTE);
    expect(to - from).toBeLessThan(13 * MICROS_PER_MINUTE);
  });
});

describe('generate: injected records', () => {
  const count = 30_000;
  const { emissions, summary, files } = generateToLines({
    count,
    runs: 2,
    partitions: 4,
    seed: 99,
    ...ALL_INVALID,
  });

  it('injects each kind at about its fraction, and counts exactly what it wrote', () => {
    const expected: Record<string, number> = {
      unparseable: 0.02,
      pins_invalid: 0.02,
      envelope_invalid: 0.02,
      payload_invalid: 0.02,
      too_late: 0.02,
      irrelevant: 0.02,
      duplicate: 0.03,
      anomaly: 0.02,
    };
    for (const [kind, f] of Object.entries(expected)) {
      expect(Math.abs(summary.classes[kind as keyof typeof summary.classes] - f * count)).toBeLessThan(
        0.2 * f * count,
      );
    }
    const tally: Record<string, number> = {};
    for (const e of emissions) tally[e.cls] = (tally[e.cls] ?? 0) + 1;
    expect(tally).toEqual(Object.fromEntries(Object.entries(summary.classes).filter(([, n]) => n > 0)));
    expect(Math.abs(summary.outOfOrder - 0.05 * summary.classes.applied)).toBeLessThan(0.01 * count);
  });

  it('unparseable records are a truncated line, a blank line or NaN, on partition 0', () => {
    const lines = emissions.filter((e) => e.cls === 'unparseable');
    expect(
      new Set(lines.map((e) => (e.line === '' ? 'blank' : e.line === 'NaN' ? 'NaN' : 'truncated'))),
    ).toEqual(new Set(['blank', 'NaN', 'truncated']));
    const parses = (l: string): boolean => {
      try {
        JSON.parse(l);
        return true;
      } catch {
        return false;
      }
    };
    expect(lines.filter((e) => e.partition !== 0 || parses(e.line))).toEqual([]);
  });

  it('pins_invalid records miss a pin or have a malformed one', () => {
    const wellFormed = emissions.filter((e) => {
      if (e.cls !== 'pins_invalid') return false;
      const env = parse(e.line);
      const bad =
        !('platform_run_id' in env) ||
        !PIN_PATTERNS.scenarioRunId.test(env.scenario_run_id as string) ||
        !PIN_PATTERNS.manifestFingerprint.test(env.manifest_fingerprint as string) ||
        env.scenario_id === '' ||
        !isUint64Text(num(env.seed));
      return !bad;
    });
    expect(wellFormed).toEqual([]);
  });

  it('envelope_invalid records have a Feb 30 or 3-digit ts_utc, an extra property or an empty event_id', () => {
    const reasons = new Set<string>();
    for (const e of emissions.filter((x) => x.cls === 'envelope_invalid')) {
      const env = parse(e.line);
      if (/^\d{4}-02-30T/.test(env.ts_utc as string)) reasons.add('feb30');
      else if (parseTimestamp(env.ts_utc) === null) reasons.add('ts-form');
      else if ('unexpected_field' in env) reasons.add('extra');
      else if (env.event_id === '') reasons.add('event_id');
    }
    expect(reasons).toEqual(new Set(['feb30', 'ts-form', 'extra', 'event_id']));
  });

  it('payload_invalid records break the 6B schema: amount as string or null, an id like 7.0, missing or extra field', () => {
    const reasons = new Set<string>();
    for (const e of emissions.filter((x) => x.cls === 'payload_invalid')) {
      const p = parse(e.line).payload as Obj;
      if (typeof p.amount === 'string') reasons.add('amount-string');
      else if (p.amount === null) reasons.add('amount-null');
      else if (!('campaign_id' in p)) reasons.add('missing');
      else if ('risk_note' in p) reasons.add('extra');
      else if (e.line.match(/"(merchant_id|event_seq)":\d+\.0,/)) reasons.add('fractional-id');
    }
    expect(reasons).toEqual(new Set(['amount-string', 'amount-null', 'missing', 'extra', 'fractional-id']));
  });

  it('too_late records are more than 7d + 1h older than what their partition already had', () => {
    const maxTs = new Map<string, number>();
    const c = new Checks();
    for (const e of emissions) {
      if (e.cls !== 'applied' && e.cls !== 'too_late') continue;
      const env = parse(e.line);
      const key = `${e.stream}/${e.partition}/${env.scenario_run_id}`;
      const ts = parseTimestamp(env.ts_utc) as number;
      if (e.cls === 'applied') maxTs.set(key, Math.max(maxTs.get(key) ?? -Infinity, ts));
      else
        c.ok(
          ts < (maxTs.get(key) as number) - 7 * 24 * MICROS_PER_HOUR - MICROS_PER_HOUR,
          () => `not late: ${e.line}`,
        );
    }
    expect(c.failures).toEqual([]);
  });

  it('irrelevant records are decision_response events on the traffic stream', () => {
    const irrelevant = emissions.filter((x) => x.cls === 'irrelevant');
    expect(irrelevant.length).toBeGreaterThan(0);
    expect(
      irrelevant.filter(
        (e) => e.stream !== TRAFFIC_STREAM || parse(e.line).event_type !== 'decision_response',
      ),
    ).toEqual([]);
  });

  it('duplicates repeat an earlier line exactly; anomalies reuse an earlier event_id with another payload', () => {
    const seen = new Map<string, string>();
    const c = new Checks();
    for (const e of emissions) {
      if (e.cls === 'applied') {
        const env = parse(e.line);
        seen.set(`${e.stream}/${env.scenario_run_id}/${env.event_id}`, e.line);
      } else if (e.cls === 'duplicate' || e.cls === 'anomaly') {
        const env = parse(e.line);
        const first = seen.get(`${e.stream}/${env.scenario_run_id}/${env.event_id}`);
        c.ok(first !== undefined, () => `no earlier copy: ${e.line}`);
        if (e.cls === 'duplicate') c.eq(e.line, first, 'duplicate line');
        else
          c.ok(
            e.line !== first && (parse(first as string) as Obj).event_id === env.event_id,
            () => `anomaly ${e.line}`,
          );
      }
    }
    expect(c.failures).toEqual([]);
  });

  it('out-of-order events are shifted earlier by at most 30 minutes', () => {
    let drops = 0;
    const tooFar: number[] = [];
    for (const parts of Object.values(files)) {
      for (const lines of Object.values(parts)) {
        let max = -Infinity;
        for (const l of lines) {
          const ts = parseTimestamp(
            (() => {
              try {
                return parse(l).ts_utc;
              } catch {
                return undefined;
              }
            })(),
          );
          if (ts === null) continue;
          if (ts < max - 7 * 24 * MICROS_PER_HOUR) continue; // a too_late record
          if (ts < max) {
            drops++;
            // 30 minutes of shift plus the spacing of events around it
            if (max - ts > 40 * MICROS_PER_MINUTE) tooFar.push(max - ts);
          }
          max = Math.max(max, ts);
        }
      }
    }
    expect(drops).toBeGreaterThan(0);
    expect(tooFar).toEqual([]);
  });

  it('rejects fractions that add up to more than 1 and malformed durations', () => {
    expect(() => generateToLines({ count: 1, duplicateFraction: 0.6, anomalyFraction: 0.6 })).toThrow(
      RangeError,
    );
    expect(() => generateToLines({ count: 1, tooLateFraction: -0.1 })).toThrow(RangeError);
    expect(() => generateToLines({ duration: '10 minutes' })).toThrow(RangeError);
    expect(() => generateToLines({ count: 1, seed: '-5' })).toThrow(RangeError);
    expect(() => generateToLines({ count: 1, start: '2026-02-30T00:00:00.000000Z' })).toThrow(RangeError);
  });
});

describe("generate: the projector's classifier agrees with the summary", () => {
  it('classifies every generated record as the generator says (SPEC 4.2, default policy)', () => {
    const { files, summary } = generateToLines({
      count: 8000,
      runs: 2,
      partitions: 3,
      seed: 21,
      ...ALL_INVALID,
    });
    const policy = loadPolicyFile(path.resolve(__dirname, '../../config/features.yaml'));
    const parser = new RecordParser({ envelopeSchema, payloadSchemas });
    const overlay = new StateOverlay({ watermark: () => undefined, appliedCopy: () => undefined });
    const counts: Record<string, number> = {};
    for (const [stream, parts] of Object.entries(files)) {
      for (const [p, lines] of Object.entries(parts)) {
        const prepared = lines.map((raw, offset) =>
          prepareRecord({ stream, partition: Number(p), offset, raw }, policy, parser),
        );
        for (const d of classifyInOrder(prepared, policy, overlay))
          counts[d.class] = (counts[d.class] ?? 0) + 1;
      }
    }
    expect(counts).toEqual(Object.fromEntries(Object.entries(summary.classes).filter(([, n]) => n > 0)));
  });
});

describe('writeEvent: the byte path of valid events', () => {
  it('writes exactly the text renderEvent gives', () => {
    const options = resolveOptions({
      count: 3000,
      runs: 3,
      seed: 8,
      duplicateFraction: 0.05,
      anomalyFraction: 0.05,
    });
    const model = new TrafficModel(options);
    const buffer = new LineBuffer(1024);
    const expected: string[] = [];
    for (let i = 0; i < options.count; i++) {
      const e = model.next();
      if (e.spec === null) continue;
      writeEvent(e.spec, buffer);
      expected.push(renderEvent(e.spec) + '\n');
    }
    expect(Buffer.concat(buffer.take()).toString('utf8')).toBe(expected.join(''));
  });
});

describe('Prng', () => {
  it('is reproducible per (seed, label) and independent across labels', () => {
    const a = new Prng(5n, 'x');
    const b = new Prng(5n, 'x');
    const c = new Prng(5n, 'y');
    const sa = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(sa);
  });

  it('produces floats in [0, 1) with a plausible mean', () => {
    const p = new Prng(123n);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = p.float();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01);
  });
});

describe('ProgressBar', () => {
  it('shows percentage, rate and ETA, and draws only when enabled', () => {
    const written: string[] = [];
    const out = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar(1000, { out, minIntervalMs: 0 });
    expect(bar.render(250, 1000)).toMatch(/\[######-+\]\s+25\.0% 250\/1,000 250 events\/s ETA 3s/);
    bar.update(10);
    bar.finish(1000);
    expect(written).toEqual([]); // not a TTY and not forced
    const forced = new ProgressBar(1000, { out, enabled: true, minIntervalMs: 0 });
    forced.update(500);
    forced.finish(1000);
    expect(written.join('')).toContain('100.0%');
    expect(written[written.length - 1]).toBe('\n');
  });
});
