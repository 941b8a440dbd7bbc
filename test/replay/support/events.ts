/**
 * Test events as raw bus lines, built by hand (not by the generator or the parser under test): valid 6B envelopes
 * with exact number literals, equivalent re-encodings of one event (duplicates), and every invalid kind.
 */
import { formatTimestamp, type Micros } from '../../../src/core/time';

export const ANCHOR = 'fp.bus.context.flow_anchor.fraud.v1';
export const TRAFFIC = 'fp.bus.traffic.fraud.v1';
export const ANCHOR_TYPE = 's3_flow_anchor_with_fraud_6B';
export const TRAFFIC_TYPE = 's3_event_stream_with_fraud_6B';

/** Six pins in envelope spelling; the second run differs from the first only in its seed. */
export const RUNS = [
  {
    platform_run_id: 'platform_20260206T170000Z',
    scenario_run_id: 'c3'.repeat(16),
    scenario_id: 'baseline',
    manifest_fingerprint: 'a1'.repeat(32),
    parameter_hash: 'b2'.repeat(32),
    seed: '12652566772709145285',
  },
  {
    platform_run_id: 'platform_20260206T170000Z',
    scenario_run_id: 'c3'.repeat(16),
    scenario_id: 'baseline',
    manifest_fingerprint: 'a1'.repeat(32),
    parameter_hash: 'b2'.repeat(32),
    seed: '7',
  },
] as const;

/** Request pins (GraphQL names) of a run. */
export function requestPins(run: number) {
  const r = RUNS[run];
  return {
    platformRunId: r.platform_run_id,
    scenarioRunId: r.scenario_run_id,
    scenarioId: r.scenario_id,
    manifestFingerprint: r.manifest_fingerprint,
    parameterHash: r.parameter_hash,
    seed: r.seed,
  };
}

export interface TestEvent {
  run: number;
  stream: 'anchor' | 'traffic';
  eventId: string;
  ts: Micros;
  /** JSON integer literal of the key (merchant_id on anchors, flow_id on traffic). */
  key: string;
  /** JSON number literal of the amount. */
  amount: string;
}

export const streamOf = (e: { stream: 'anchor' | 'traffic' }) => (e.stream === 'anchor' ? ANCHOR : TRAFFIC);

function pinsJson(run: number, runId: boolean): string {
  const r = RUNS[run];
  return (
    `"platform_run_id":"${r.platform_run_id}","scenario_run_id":"${r.scenario_run_id}","scenario_id":"${r.scenario_id}",` +
    `"manifest_fingerprint":"${r.manifest_fingerprint}","parameter_hash":"${r.parameter_hash}","seed":${r.seed}` +
    (runId ? `,"run_id":"${'d4'.repeat(16)}"` : '')
  );
}

function payloadFields(e: TestEvent, amount: string): [string, string][] {
  const r = RUNS[e.run];
  const ts = formatTimestamp(e.ts);
  const common: [string, string][] = [
    ['ts_utc', `"${ts}"`],
    ['amount', amount],
    ['seed', r.seed],
    ['manifest_fingerprint', `"${r.manifest_fingerprint}"`],
    ['parameter_hash', `"${r.parameter_hash}"`],
    ['scenario_id', `"${r.scenario_id}"`],
    ['fraud_flag', 'false'],
    ['campaign_id', 'null'],
  ];
  if (e.stream === 'anchor') {
    return [
      ['flow_id', '1001'],
      ['arrival_seq', '1'],
      ['merchant_id', e.key],
      ['party_id', '7'],
      ['account_id', '8'],
      ['instrument_id', '9'],
      ['device_id', '10'],
      ['ip_id', '11'],
      ...common,
    ];
  }
  return [['flow_id', e.key], ['event_seq', '3'], ['event_type', '"AUTH_REQUEST"'], ...common];
}

/**
 * Encodings of one event that are all the same event (equal payload hash): 0 plain; 1 payload keys reversed;
 * 2 `{envelope}` framing; 3 publisher framing `{payload, partition_key}`; 4 with a run_id (never scopes state).
 */
export const ENCODINGS = 5;

/** The bus line of an event; `amount` overrides the amount literal (an equivalent or a different value). */
export function renderEvent(e: TestEvent, encoding = 0, amount = e.amount): string {
  let fields = payloadFields(e, amount);
  if (encoding === 1) fields = [...fields].reverse();
  const payload = `{${fields.map(([k, v]) => `"${k}":${v}`).join(',')}}`;
  const type = e.stream === 'anchor' ? ANCHOR_TYPE : TRAFFIC_TYPE;
  const env =
    `{"event_id":"${e.eventId}","event_type":"${type}","schema_version":"v1","ts_utc":"${formatTimestamp(e.ts)}",` +
    `${pinsJson(e.run, encoding === 4)},"producer":"test","payload":${payload}}`;
  if (encoding === 2) return `{"envelope":${env}}`;
  if (encoding === 3) return `{"payload":${env},"partition_key":"${e.key}"}`;
  return env;
}

/** Literals equal in value to a plain decimal literal (`10.5` → `10.50`, `1.05e1` ...), for re-sent copies. */
export function equivalentAmounts(amount: string): string[] {
  const neg = amount.startsWith('-');
  const sign = neg ? '-' : '';
  const [int, frac = ''] = (neg ? amount.slice(1) : amount).split('.');
  const digits = (int + frac).replace(/^0+/, '');
  const out = [amount, frac === '' ? `${amount}.0` : `${amount}0`];
  if (digits === '') out.push(neg ? '0' : '-0', '0e3', '0.000');
  else
    out.push(
      `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${digits.length - 1 - frac.length}`,
    );
  return out;
}

/** Invalid records (SPEC 4.2) of a run; `irrelevant` ones are counted and skipped, the others quarantined. */
export const INVALID_KINDS = [
  'unparseable',
  'pins_invalid',
  'envelope_invalid',
  'payload_invalid',
  'irrelevant',
] as const;
export type InvalidKind = (typeof INVALID_KINDS)[number];

export function renderInvalid(kind: InvalidKind, e: TestEvent, variant = 0): string {
  const line = renderEvent(e);
  switch (kind) {
    case 'unparseable':
      return ['', 'NaN', line.slice(0, 40), '{"event_id":"x",}'][variant % 4];
    case 'pins_invalid':
      return variant % 2 === 0
        ? line.replace(`"seed":${RUNS[e.run].seed},`, `"seed":"${RUNS[e.run].seed}",`)
        : line.replace('"platform_run_id":"platform_20260206T170000Z",', '');
    case 'envelope_invalid':
      return variant % 2 === 0
        ? line.replace(`"ts_utc":"${formatTimestamp(e.ts)}",`, '"ts_utc":"2026-02-30T00:00:00.000000Z",')
        : line.replace('"producer":"test"', '"producer":"test","bogus":1');
    case 'payload_invalid':
      return line.replace(`"amount":${e.amount}`, `"amount":"${e.amount}"`);
    case 'irrelevant':
      return variant % 2 === 0
        ? line.replace(
            `"event_type":"${e.stream === 'anchor' ? ANCHOR_TYPE : TRAFFIC_TYPE}"`,
            '"event_type":"decision_response"',
          )
        : line.replace(
            `"event_type":"${e.stream === 'anchor' ? ANCHOR_TYPE : TRAFFIC_TYPE}"`,
            `"event_type":"${e.stream === 'anchor' ? TRAFFIC_TYPE : ANCHOR_TYPE}"`,
          );
  }
}

/** Whether an invalid record of this kind belongs to its run (pins readable) and is quarantined. */
export const quarantinedWithRun = (kind: InvalidKind) =>
  kind === 'envelope_invalid' || kind === 'payload_invalid';
