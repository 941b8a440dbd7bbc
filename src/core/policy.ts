/**
 * Feature policy (SPEC 3): the versioned YAML that declares every group, window and aggregation OFP computes.
 * Pure: takes the file's text and name, returns a validated, typed policy or throws a PolicyError naming the file,
 * the path inside it and the rule broken (SPEC 3: an invalid policy stops the process at start).
 *
 * Numbers: the policy has no numeric settings (durations are strings such as `7d`), so numbers only appear where a
 * string was meant. YAML integers become JS safe integers (larger ones are rejected); non-integer numbers (`1.5`,
 * `1.0`, `.inf`) are rejected anywhere in the file. That keeps `content_digest` well-defined: canonicalJson never sees
 * a binary double, so the digest cannot depend on float formatting.
 */
import { createHash } from 'node:crypto';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { canonicalJson } from './json';
import { parseDuration } from './time';
import type { Micros } from './time';

/** Aggregations a feature may use (SPEC 3). */
export const AGGREGATIONS = ['count', 'sum', 'min', 'max', 'avg', 'last'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** What a policy does with an invalid record (SPEC 4.5). */
export type OnInvalid = 'quarantine' | 'stall';

/** One window of a group: its label as written (`1h`) and its length. */
export interface FeatureWindow {
  label: string;
  micros: Micros;
}

/** One declared feature; `field` is absent exactly when `agg` is `count`. */
export interface FeatureDef {
  name: string;
  agg: Aggregation;
  field?: string;
}

/** A validated feature group. */
export interface FeatureGroup {
  name: string;
  version: string;
  keyType: string;
  /** Payload field whose exact decimal text is the key id. */
  keyField: string;
  streams: string[];
  eventTypes: string[];
  /** ttl as written (`7d`). */
  ttl: string;
  ttlMicros: Micros;
  /** In declaration order. */
  windows: FeatureWindow[];
  /** In declaration order. */
  features: FeatureDef[];
  /** Distinct payload fields read by non-count features, in first-use order. */
  fields: string[];
  /** `<feature>_<window>` for each feature × window, feature-major, in declaration order. */
  valueNames: string[];
  /** Longest window of this group. */
  longestWindowMicros: Micros;
}

/** A validated feature policy. */
export interface FeaturePolicy {
  policyId: string;
  revision: string;
  /** Lowercase hex sha256 of canonicalJson(source): the parsed YAML as written, defaults not filled in. */
  contentDigest: string;
  /** lateness as written, or the default `1h`. */
  lateness: string;
  latenessMicros: Micros;
  /** key_retention as written, or the default `400d`. */
  keyRetention: string;
  keyRetentionMicros: Micros;
  onInvalid: OnInvalid;
  groups: FeatureGroup[];
  /** Longest window of any group. */
  longestWindowMicros: Micros;
  /** longestWindowMicros + latenessMicros (SPEC 4.4). */
  horizonMicros: Micros;
  /** The parsed YAML as plain JSON data (strings, safe integers, booleans, null, arrays, objects). */
  source: unknown;
}

/** A policy that cannot be used: `file`, `path` inside it (`groups[2].windows[1]`) and the `rule` broken. */
export class PolicyError extends Error {
  override name = 'PolicyError';

  constructor(
    readonly file: string,
    readonly path: string,
    readonly rule: string,
    /** 1-based line of the offending node when known. */
    readonly line?: number,
  ) {
    super(`${file}: ${path}: ${rule}`);
  }
}

export const DEFAULT_LATENESS = '1h';
export const DEFAULT_KEY_RETENTION = '400d';
export const DEFAULT_ON_INVALID: OnInvalid = 'quarantine';

const DURATION_RULE = 'must be a duration like 1h, 24h, 7d';
const ROOT_PATH = '(root)';

// Names end up inside other identifiers: value names `<feature>_<window>`, contract keys `<group>/<version>` and
// `<key_type>:<key_id>`, bus directories `<root>/<stream>/`; restricting them keeps all of those unambiguous.
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;
const IDENTIFIER_RULE = 'must be an identifier (a letter, then letters, digits or _)';
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VERSION_RULE =
  'must be a version (letters, digits, ".", "_" or "-"; not starting with a punctuation mark)';
const STREAM = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const STREAM_RULE =
  'must be a stream name (letters, digits, ".", "_" or "-"; not starting with a punctuation mark)';

// ---------------------------------------------------------------------------------------------------------------
// YAML → plain data, remembering where every node sits so validation errors can name a line.

type Plain = null | boolean | number | string | Plain[] | PlainObject;
type PlainObject = { [key: string]: Plain };

/** Tags whose values are plain JSON data; anything else (`!!binary`, `!!set`, `!!timestamp`, custom) is refused. */
const PLAIN_TAGS = new Set(['str', 'int', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/** Guards against alias expansion bombs: a policy is a few hundred nodes. */
const MAX_NODES = 100_000;

interface Converted {
  value: Plain;
  lines: Map<string, number>;
}

function childPath(parent: string, segment: string | number): string {
  if (typeof segment === 'number') return `${parent === ROOT_PATH ? '' : parent}[${segment}]`;
  return parent === ROOT_PATH ? segment : `${parent}.${segment}`;
}

function toPlain(doc: Document, counter: LineCounter, file: string): Converted {
  const lines = new Map<string, number>();
  let budget = MAX_NODES;
  const expanding = new Set<unknown>();

  const lineOf = (node: unknown): number | undefined => {
    const range = (node as YamlNode | null | undefined)?.range;
    return range ? counter.linePos(range[0]).line : undefined;
  };

  const walk = (node: unknown, path: string, aliasLine?: number): Plain => {
    if (--budget < 0) throw new PolicyError(file, path, 'document too large (alias expansion?)', aliasLine);
    // An alias reads as its anchor's value; errors inside it point at the alias, where the reader looks.
    if (isAlias(node)) {
      const target = node.resolve(doc);
      // `a: &a [*a]` parses without error but would expand forever.
      if (expanding.has(target)) throw new PolicyError(file, path, 'alias refers to itself', lineOf(node));
      expanding.add(target);
      try {
        return walk(target, path, aliasLine ?? lineOf(node));
      } finally {
        expanding.delete(target);
      }
    }
    const line = aliasLine ?? lineOf(node);
    if (line !== undefined && !lines.has(path)) lines.set(path, line);
    if (node === null || node === undefined) return null; // `key:` with no value
    const tag = (node as YamlNode).tag;
    if (tag !== undefined && !PLAIN_TAGS.has(tag)) {
      throw new PolicyError(
        file,
        path,
        `YAML tag ${tag} is not allowed (plain strings, lists and mappings only)`,
        line,
      );
    }
    if (isMap(node)) {
      const out: PlainObject = {};
      for (const pair of node.items) {
        const key = pair.key;
        if (!isScalar(key) || typeof key.value !== 'string') {
          throw new PolicyError(file, path, 'mapping keys must be plain strings', lineOf(key) ?? line);
        }
        const keyPath = childPath(path, key.value);
        // The key's line first: an empty value (`ttl:`) has no node of its own.
        const keyLine = aliasLine ?? lineOf(key);
        if (keyLine !== undefined) lines.set(keyPath, keyLine);
        // defineProperty, not assignment: a `__proto__` key must stay an (unknown, rejected) key, not a prototype.
        Object.defineProperty(out, key.value, {
          value: walk(pair.value, keyPath, aliasLine),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item, i) => walk(item, childPath(path, i), aliasLine));
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
      if (typeof v === 'bigint') {
        const n = Number(v);
        if (!Number.isSafeInteger(n))
          throw new PolicyError(file, path, 'integer out of the safe range', line);
        return n;
      }
      if (typeof v === 'number') {
        throw new PolicyError(
          file,
          path,
          'non-integer numbers are not allowed (quote the value if it is text)',
          line,
        );
      }
    }
    throw new PolicyError(file, path, 'unsupported YAML value', line);
  };

  return { value: walk(doc.contents, ROOT_PATH), lines };
}

function parseYaml(text: string, file: string): Converted {
  const counter = new LineCounter();
  // intAsBigInt tells integers (bigint) from floats (number) even when a float is integral, such as `1.0`.
  const doc = parseDocument(text, {
    intAsBigInt: true,
    uniqueKeys: true,
    prettyErrors: false,
    lineCounter: counter,
  });
  // Warnings (an unresolved tag, for one) are refused too: a policy that means something else than it says is worse
  // than no policy.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const { line, col } = counter.linePos(problem.pos[0]);
    throw new PolicyError(file, `line ${line}, column ${col}`, `invalid YAML: ${problem.message}`, line);
  }
  return toPlain(doc, counter, file);
}

// ---------------------------------------------------------------------------------------------------------------
// Validation.

class Checker {
  constructor(
    private readonly file: string,
    private readonly lines: Map<string, number>,
  ) {}

  /** Throws a PolicyError at `path`, with the line of the nearest node known on the way up. */
  fail(path: string, rule: string): never {
    let p = path;
    let line = this.lines.get(p);
    while (line === undefined && p !== ROOT_PATH) {
      const parent = p.replace(/(\.[^.[\]]*|\[\d+\])$/, '');
      p = parent === p || parent === '' ? ROOT_PATH : parent;
      line = this.lines.get(p);
    }
    throw new PolicyError(this.file, path, rule, line);
  }

  /** A mapping with exactly the allowed keys (unknown keys first: a typo explains a "missing" key). */
  mapping(value: Plain, path: string, required: readonly string[], optional: readonly string[]): PlainObject {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      this.fail(path, 'must be a mapping');
    const allowed = [...required, ...optional];
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key))
        this.fail(childPath(path, key), `unknown key (allowed: ${allowed.join(', ')})`);
    }
    for (const key of required) {
      if (!(key in value)) this.fail(childPath(path, key), 'is required');
    }
    return value;
  }

  string(value: Plain, path: string, pattern?: RegExp, patternRule?: string, maxLength = 256): string {
    if (typeof value !== 'string') this.fail(path, 'must be a string');
    if (value.trim() === '') this.fail(path, 'must be a non-empty string');
    if (value.length > maxLength) this.fail(path, `must be at most ${maxLength} characters`);
    if (pattern && !pattern.test(value)) this.fail(path, patternRule ?? `must match ${pattern.source}`);
    return value;
  }

  /** A duration (`30s`, `5m`, `1h`, `7d`): its label as written and its length. */
  duration(value: Plain, path: string): FeatureWindow {
    const micros = parseDuration(value);
    if (typeof value !== 'string' || micros === null || !Number.isSafeInteger(micros))
      this.fail(path, DURATION_RULE);
    return { label: value, micros };
  }

  list(value: Plain, path: string): Plain[] {
    if (!Array.isArray(value)) this.fail(path, 'must be a list');
    if (value.length === 0) this.fail(path, 'must not be empty');
    return value;
  }

  /** A non-empty list of distinct strings. */
  stringList(value: Plain, path: string, pattern?: RegExp, patternRule?: string): string[] {
    const items = this.list(value, path).map((item, i) =>
      this.string(item, childPath(path, i), pattern, patternRule),
    );
    items.forEach((item, i) => {
      const first = items.indexOf(item);
      if (first !== i)
        this.fail(
          childPath(path, i),
          `duplicate ${JSON.stringify(item)} (first at ${childPath(path, first)})`,
        );
    });
    return items;
  }
}

const POLICY_REQUIRED = ['policy_id', 'revision', 'groups'] as const;
const POLICY_OPTIONAL = ['lateness', 'key_retention', 'on_invalid'] as const;
const GROUP_REQUIRED = [
  'name',
  'version',
  'key_type',
  'key_field',
  'streams',
  'event_types',
  'ttl',
  'windows',
  'features',
] as const;
const FEATURE_REQUIRED = ['name', 'agg'] as const;
const FEATURE_OPTIONAL = ['field'] as const;

function checkFeature(c: Checker, value: Plain, path: string): FeatureDef {
  const f = c.mapping(value, path, FEATURE_REQUIRED, FEATURE_OPTIONAL);
  const name = c.string(f.name, `${path}.name`, IDENTIFIER, IDENTIFIER_RULE, 128);
  const aggText = c.string(f.agg, `${path}.agg`);
  if (!(AGGREGATIONS as readonly string[]).includes(aggText)) {
    c.fail(`${path}.agg`, `must be one of ${AGGREGATIONS.join(', ')}`);
  }
  const agg = aggText as Aggregation;
  if (agg === 'count') {
    // count counts events; a field would suggest it counts non-null values, which it does not.
    if ('field' in f) c.fail(`${path}.field`, 'not allowed for agg count');
    return { name, agg };
  }
  if (!('field' in f)) c.fail(`${path}.field`, `is required for agg ${agg}`);
  return { name, agg, field: c.string(f.field, `${path}.field`, IDENTIFIER, IDENTIFIER_RULE, 128) };
}

function checkGroup(c: Checker, value: Plain, path: string): FeatureGroup {
  const g = c.mapping(value, path, GROUP_REQUIRED, []);
  const name = c.string(g.name, `${path}.name`, IDENTIFIER, IDENTIFIER_RULE, 128);
  const version = c.string(g.version, `${path}.version`, VERSION, VERSION_RULE, 64);
  const keyType = c.string(g.key_type, `${path}.key_type`, IDENTIFIER, IDENTIFIER_RULE, 64);
  const keyField = c.string(g.key_field, `${path}.key_field`, IDENTIFIER, IDENTIFIER_RULE, 128);
  const streams = c.stringList(g.streams, `${path}.streams`, STREAM, STREAM_RULE);
  const eventTypes = c.stringList(g.event_types, `${path}.event_types`);
  const { label: ttl, micros: ttlMicros } = c.duration(g.ttl, `${path}.ttl`);

  const windows: FeatureWindow[] = [];
  c.list(g.windows, `${path}.windows`).forEach((w, i) => {
    const wPath = `${path}.windows[${i}]`;
    const window = c.duration(w, wPath);
    const same = windows.findIndex((other) => other.micros === window.micros);
    // `60m` next to `1h` would serve the same window under two names: refuse it like a plain duplicate.
    if (same !== -1)
      c.fail(wPath, `duplicate window ${window.label} (same length as ${path}.windows[${same}])`);
    windows.push(window);
  });

  const features: FeatureDef[] = [];
  c.list(g.features, `${path}.features`).forEach((item, i) => {
    const fPath = `${path}.features[${i}]`;
    const feature = checkFeature(c, item, fPath);
    const first = features.findIndex((other) => other.name === feature.name);
    if (first !== -1)
      c.fail(`${fPath}.name`, `duplicate feature name ${feature.name} (first at ${path}.features[${first}])`);
    features.push(feature);
  });

  const valueNames: string[] = [];
  features.forEach((feature, i) => {
    for (const w of windows) {
      const valueName = `${feature.name}_${w.label}`;
      // With identifier names and duration labels a clash cannot happen today; the check keeps that true if the
      // naming rules are ever relaxed.
      if (valueNames.includes(valueName))
        c.fail(`${path}.features[${i}].name`, `value name ${valueName} collides`);
      valueNames.push(valueName);
    }
  });

  const fields: string[] = [];
  for (const f of features) if (f.field !== undefined && !fields.includes(f.field)) fields.push(f.field);

  return {
    name,
    version,
    keyType,
    keyField,
    streams,
    eventTypes,
    ttl,
    ttlMicros,
    windows,
    features,
    fields,
    valueNames,
    longestWindowMicros: Math.max(...windows.map((w) => w.micros)),
  };
}

/**
 * Parses and validates a feature policy.
 * @param yamlText the file's content
 * @param fileName the name used in error messages (`config/features.yaml`)
 * @throws PolicyError on a YAML syntax error or any broken rule, naming the file, path and rule
 */
export function parsePolicy(yamlText: string, fileName: string): FeaturePolicy {
  const { value: source, lines } = parseYaml(yamlText, fileName);
  // Annotated so that `c.fail(...)` (returns never) narrows types in the control flow.
  const c: Checker = new Checker(fileName, lines);
  if (source === null) c.fail(ROOT_PATH, 'must be a mapping (the file is empty)');
  const root = c.mapping(source, ROOT_PATH, POLICY_REQUIRED, POLICY_OPTIONAL);

  const policyId = c.string(root.policy_id, 'policy_id');
  const revision = c.string(root.revision, 'revision');
  // Defaults apply only to absent keys: `lateness:` with no value is a mistake, not a request for the default.
  const { label: lateness, micros: latenessMicros } = c.duration(
    'lateness' in root ? root.lateness : DEFAULT_LATENESS,
    'lateness',
  );
  const { label: keyRetention, micros: keyRetentionMicros } = c.duration(
    'key_retention' in root ? root.key_retention : DEFAULT_KEY_RETENTION,
    'key_retention',
  );
  const onInvalid = 'on_invalid' in root ? root.on_invalid : DEFAULT_ON_INVALID;
  if (onInvalid !== 'quarantine' && onInvalid !== 'stall')
    c.fail('on_invalid', 'must be one of quarantine, stall');

  const groups: FeatureGroup[] = [];
  c.list(root.groups, 'groups').forEach((item, i) => {
    const group = checkGroup(c, item, `groups[${i}]`);
    const first = groups.findIndex((g) => g.name === group.name && g.version === group.version);
    if (first !== -1) {
      c.fail(
        `groups[${i}]`,
        `duplicate group ${group.name} version ${group.version} (first at groups[${first}])`,
      );
    }
    groups.push(group);
  });

  const longestWindowMicros = Math.max(...groups.map((g) => g.longestWindowMicros));
  const horizonMicros = longestWindowMicros + latenessMicros;
  if (!Number.isSafeInteger(horizonMicros)) c.fail('lateness', 'longest window + lateness is too long');

  return {
    policyId,
    revision,
    contentDigest: createHash('sha256').update(canonicalJson(source)).digest('hex'),
    lateness,
    latenessMicros,
    keyRetention,
    keyRetentionMicros,
    onInvalid,
    groups,
    longestWindowMicros,
    horizonMicros,
    source,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Lookups.

/** The group with this exact name and version, or undefined. */
export function findGroup(policy: FeaturePolicy, name: string, version: string): FeatureGroup | undefined {
  return policy.groups.find((g) => g.name === name && g.version === version);
}

/** Groups that read `stream` (whatever the event type), in policy order. */
export function groupsReadingStream(policy: FeaturePolicy, stream: string): FeatureGroup[] {
  return policy.groups.filter((g) => g.streams.includes(stream));
}

/** Groups that match a record: both its stream and its event type are the group's (SPEC 1.1). */
export function groupsMatching(policy: FeaturePolicy, stream: string, eventType: string): FeatureGroup[] {
  return policy.groups.filter((g) => g.streams.includes(stream) && g.eventTypes.includes(eventType));
}

/** Distinct streams read by `groups`, sorted by UTF-16 code units (the order input_basis uses). */
export function streamsOf(groups: readonly FeatureGroup[]): string[] {
  return [...new Set(groups.flatMap((g) => g.streams))].sort();
}

/** Plain description of a group for the GraphQL `featurePolicy` field. */
export interface FeatureGroupDescription {
  name: string;
  version: string;
  keyType: string;
  keyField: string;
  streams: string[];
  eventTypes: string[];
  ttl: string;
  windows: string[];
  features: { name: string; agg: Aggregation; field: string | null }[];
  valueNames: string[];
}

/** Plain description of the policy for the GraphQL `featurePolicy` field. */
export interface FeaturePolicyDescription {
  policyId: string;
  revision: string;
  contentDigest: string;
  lateness: string;
  keyRetention: string;
  onInvalid: OnInvalid;
  groups: FeatureGroupDescription[];
}

/** Describes the active policy: ids, digest, settings, and per group its windows and value names. */
export function describePolicy(policy: FeaturePolicy): FeaturePolicyDescription {
  return {
    policyId: policy.policyId,
    revision: policy.revision,
    contentDigest: policy.contentDigest,
    lateness: policy.lateness,
    keyRetention: policy.keyRetention,
    onInvalid: policy.onInvalid,
    groups: policy.groups.map((g) => ({
      name: g.name,
      version: g.version,
      keyType: g.keyType,
      keyField: g.keyField,
      streams: [...g.streams],
      eventTypes: [...g.eventTypes],
      ttl: g.ttl,
      windows: g.windows.map((w) => w.label),
      features: g.features.map((f) => ({ name: f.name, agg: f.agg, field: f.field ?? null })),
      valueNames: [...g.valueNames],
    })),
  };
}
