/**
 * Readable differences between an online answer and its offline replay: which entry, which value, online vs
 * offline. Values are shown in their section-6 encoding (counts as JSON integers, decimals as strings, null), so a
 * count served as the string "2" shows up as a difference from the integer 2, as it would change the hash.
 */
import type { FeatureEntry, FeatureValue, InputBasis, SnapshotContent } from '../core/snapshot';
import { compareUtf16 } from '../core/snapshot';

/** The outcome of one request: a snapshot with its hash, or a domain error. */
export type AnswerOutcome =
  | { kind: 'snapshot'; content: SnapshotContent; snapshotHash: string }
  | { kind: 'error'; code: string; detail: string };

/** One difference: where, and the value on each side (undefined = absent on that side). */
export interface DiffLine {
  path: string;
  online: unknown;
  offline: unknown;
  /** The values are descriptions to print as they are, not data to print as JSON. */
  described?: boolean;
}

const entryId = (e: FeatureEntry) => `${e.group}/${e.version} ${e.keyType}:${e.keyId}`;
const hashed = (v: FeatureValue): number | string | null => v.value;

function push(out: DiffLine[], path: string, online: unknown, offline: unknown): void {
  if (JSON.stringify(online) !== JSON.stringify(offline)) out.push({ path, online, offline });
}

function basisMap(basis: InputBasis[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const b of basis) {
    m.set(`${b.stream} offsetKind`, b.offsetKind);
    for (const o of b.offsets) m.set(`${b.stream}/${o.partition}`, o.offset);
  }
  return m;
}

function keysOf<T>(a: Map<string, T>, b: Map<string, T>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].sort(compareUtf16);
}

/** Every difference between two snapshot contents, in the order of the section-6 document. */
export function diffSnapshots(online: SnapshotContent, offline: SnapshotContent): DiffLine[] {
  const out: DiffLine[] = [];
  for (const k of [
    'platformRunId',
    'scenarioRunId',
    'scenarioId',
    'manifestFingerprint',
    'parameterHash',
    'seed',
    'runId',
  ] as const) {
    push(out, `pins.${k}`, online.pins[k], offline.pins[k]);
  }
  push(out, 'asOf', online.asOfUtc, offline.asOfUtc);
  push(out, 'policyRev', online.policyRev, offline.policyRev);
  const groups = (c: SnapshotContent) =>
    c.featureGroups.map((g) => `${g.name}/${g.version}`).sort(compareUtf16);
  push(out, 'featureGroups', groups(online), groups(offline));
  const ob = basisMap(online.inputBasis);
  const fb = basisMap(offline.inputBasis);
  for (const k of keysOf(ob, fb)) push(out, `inputBasis[${k}]`, ob.get(k), fb.get(k));
  push(out, 'graphVersion', online.graphVersion, offline.graphVersion);
  push(out, 'freshness.state', online.freshness.state, offline.freshness.state);
  push(
    out,
    'freshness.flags',
    [...online.freshness.flags].sort(compareUtf16),
    [...offline.freshness.flags].sort(compareUtf16),
  );
  const oe = new Map(online.features.map((e) => [entryId(e), e]));
  const fe = new Map(offline.features.map((e) => [entryId(e), e]));
  for (const id of keysOf(oe, fe)) {
    const a = oe.get(id);
    const b = fe.get(id);
    if (!a || !b) {
      out.push({
        path: `features[${id}]`,
        online: a ? 'present' : 'absent',
        offline: b ? 'present' : 'absent',
        described: true,
      });
      continue;
    }
    push(out, `features[${id}].status`, a.status, b.status);
    push(out, `features[${id}].lastEventTsUtc`, a.lastEventTsUtc, b.lastEventTsUtc);
    const av = new Map(a.values.map((v) => [v.name, v.value]));
    const bv = new Map(b.values.map((v) => [v.name, v.value]));
    for (const name of keysOf(av, bv)) {
      const x = av.get(name);
      const y = bv.get(name);
      push(
        out,
        `features[${id}].${name}`,
        x === undefined ? undefined : hashed(x),
        y === undefined ? undefined : hashed(y),
      );
    }
  }
  return out;
}

/** Differences between two outcomes; an error matches an error of the same code (details may differ). */
export function diffOutcomes(online: AnswerOutcome, offline: AnswerOutcome): DiffLine[] {
  if (online.kind === 'error' || offline.kind === 'error') {
    const show = (o: AnswerOutcome) =>
      o.kind === 'error' ? `${o.code}: ${o.detail}` : `snapshot ${o.snapshotHash}`;
    if (online.kind === 'error' && offline.kind === 'error' && online.code === offline.code) return [];
    return [{ path: 'answer', online: show(online), offline: show(offline), described: true }];
  }
  const lines = diffSnapshots(online.content, offline.content);
  if (online.snapshotHash !== offline.snapshotHash)
    lines.push({ path: 'snapshotHash', online: online.snapshotHash, offline: offline.snapshotHash });
  return lines;
}

function shown(v: unknown, described: boolean | undefined): string {
  if (described) return String(v);
  return v === undefined ? '(absent)' : JSON.stringify(v);
}

/** One line per difference: `  <path>: online <value>, offline <value>`. */
export function formatDiff(lines: DiffLine[], indent = '  '): string {
  return lines
    .map(
      (l) =>
        `${indent}${l.path}: online ${shown(l.online, l.described)}, offline ${shown(l.offline, l.described)}`,
    )
    .join('\n');
}
