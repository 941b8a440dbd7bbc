/**
 * The messages between a parallel replay and its prepare workers. A worker sends what the second, stateful stage of
 * classification (`decide`) and the replay state need, compactly: per record its class (or "candidate"), its run,
 * and for candidates the dedupe identity, event time, payload hash and contributions. Raw lines, reasons and
 * payloads stay in the worker. Decoding rebuilds `Prepared` values that classify exactly like the originals.
 */
import type { FeaturePolicy } from '../core/policy';
import type { RecordParser } from '../core/envelope';
import type { ContextPins } from '../core/pins';
import { prepareRecord, type Contribution, type Prepared } from '../core/projection';
import { RECORD_CLASSES, type BusRecord } from '../core/record';

export interface PrepareWorkerData {
  busRoot: string;
  policy: FeaturePolicy;
}

export interface PrepareRequest {
  id: number;
  stream: string;
  partition: number;
  from: number;
  count: number;
}

export interface EncodedBatch {
  /** Run keys referenced by `runIdx`. */
  runs: string[];
  /** Pins of the runs referenced (every batch carries its own: a worker may finish batches out of order). */
  newPins: [string, ContextPins][];
  /** Per record: index of its class in RECORD_CLASSES when final, CANDIDATE when it is a candidate. */
  kinds: Uint8Array;
  /** Per record: index into `runs`, -1 when the record belongs to no run. */
  runIdx: Int32Array;
  /** Per candidate: eventType, eventId, tsUtc, tsMicros, payloadHash, then per contribution group index, field index, key id, value. */
  candidates: (string | number)[][];
}

export type PrepareReply =
  | ({ id: number; ok: true; nextOffset: number } & EncodedBatch)
  | {
      id: number;
      ok: false;
      error: { name: string; message: string; stream?: string; partition?: number; offset?: number };
    };

export const CANDIDATE = 255;

/** Prepares `records` and encodes the result. */
export function encodePrepared(
  records: BusRecord[],
  policy: FeaturePolicy,
  parser: RecordParser,
): EncodedBatch {
  const runs: string[] = [];
  const runIndex = new Map<string, number>();
  const newPins: [string, ContextPins][] = [];
  const kinds = new Uint8Array(records.length);
  const runIdx = new Int32Array(records.length);
  const candidates: (string | number)[][] = [];
  const groupIndex = new Map(policy.groups.map((g, i) => [g, i]));
  const withPins = new Set<string>();
  const runOf = (runKey: string | null, pins: ContextPins | undefined): number => {
    if (runKey === null) return -1;
    let i = runIndex.get(runKey);
    if (i === undefined) {
      i = runs.length;
      runs.push(runKey);
      runIndex.set(runKey, i);
    }
    if (pins && !withPins.has(runKey)) {
      withPins.add(runKey);
      newPins.push([runKey, pins]);
    }
    return i;
  };
  for (let k = 0; k < records.length; k++) {
    const p = prepareRecord(records[k], policy, parser);
    if (p.kind === 'final') {
      const d = p.decision;
      kinds[k] = RECORD_CLASSES.indexOf(d.class);
      const pins = 'pins' in d ? d.pins : 'envelope' in d ? d.envelope?.pins : undefined;
      runIdx[k] = runOf(d.runKey, pins);
      continue;
    }
    kinds[k] = CANDIDATE;
    runIdx[k] = runOf(p.runKey, p.envelope.pins);
    const e = p.envelope;
    const c: (string | number)[] = [e.eventType, e.eventId, e.tsUtc, e.tsMicros, p.payloadHash];
    for (const x of p.contributions) {
      c.push(
        groupIndex.get(x.group) as number,
        x.field === '' ? -1 : x.group.fields.indexOf(x.field),
        x.keyId,
        x.value,
      );
    }
    candidates.push(c);
  }
  return { runs, newPins, kinds, runIdx, candidates };
}

/** Rebuilds the `Prepared` values of records [from, from + n) of a partition; `pins` collects the runs' pins. */
export function decodePrepared(
  batch: EncodedBatch,
  stream: string,
  partition: number,
  from: number,
  policy: FeaturePolicy,
  pins: Map<string, ContextPins>,
): Prepared[] {
  for (const [runKey, p] of batch.newPins) if (!pins.has(runKey)) pins.set(runKey, p);
  const out: Prepared[] = new Array(batch.kinds.length);
  let next = 0;
  for (let k = 0; k < batch.kinds.length; k++) {
    const record: BusRecord = { stream, partition, offset: from + k, raw: '' };
    const runKey = batch.runIdx[k] < 0 ? null : batch.runs[batch.runIdx[k]];
    const runPins = runKey === null ? undefined : pins.get(runKey);
    if (batch.kinds[k] !== CANDIDATE) {
      const cls = RECORD_CLASSES[batch.kinds[k]];
      out[k] =
        cls === 'irrelevant'
          ? { kind: 'final', decision: { record, class: cls, runKey: runKey as string } }
          : { kind: 'final', decision: { record, class: cls as never, reason: '', runKey, pins: runPins } };
      continue;
    }
    const c = batch.candidates[next++];
    const contributions: Contribution[] = [];
    for (let i = 5; i < c.length; i += 4) {
      const group = policy.groups[c[i] as number];
      const f = c[i + 1] as number;
      contributions.push({
        group,
        field: f < 0 ? '' : group.fields[f],
        keyId: c[i + 2] as string,
        value: c[i + 3] as string,
      });
    }
    out[k] = {
      kind: 'candidate',
      record,
      runKey: runKey as string,
      payloadHash: c[4] as string,
      contributions,
      envelope: {
        eventType: c[0] as string,
        eventId: c[1] as string,
        tsUtc: c[2] as string,
        tsMicros: c[3] as number,
        schemaVersion: null,
        pins: runPins as ContextPins,
        payload: undefined,
      },
    };
  }
  return out;
}
