/**
 * The platform's JSON Schemas (YAML, vendored in `contracts/platform/`), loaded once at import. This is the only
 * module of the validation layer that reads files: validators take the schema objects it exports.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

/** A JSON Schema as a plain (deeply frozen) object. Integers beyond 2^53 are BigInt so no digit is lost. */
export type SchemaObject = Readonly<Record<string, unknown>>;

/** The payload schemas the default policy consumes (SPEC 1.1), by their 6B contract name. */
export type PayloadSchemaName = 'flow_anchor_with_fraud_6B' | 'event_stream_with_fraud_6B';

// From src/contracts the repository root is two levels up; the compiled file (dist/src/contracts) is one deeper.
function resolveContractsDir(): string {
  const candidates = [
    path.resolve(__dirname, '../../contracts/platform'),
    path.resolve(__dirname, '../../../contracts/platform'),
  ];
  return candidates.find((dir) => existsSync(dir)) ?? candidates[0];
}

/** Absolute path of the vendored platform contracts. */
export const CONTRACTS_DIR = resolveContractsDir();

/**
 * YAML integers are read as BigInt (`maximum: 18446744073709551615` would otherwise round to 2^64) and turned back
 * into plain numbers when they are safe, so ordinary keywords (`minLength: 1`) keep the types ajv expects.
 */
function normalise(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (Array.isArray(value)) return Object.freeze(value.map(normalise));
  if (typeof value === 'object' && value !== null) {
    // fromEntries defines own properties, so even a `__proto__` key stays data
    return Object.freeze(Object.fromEntries(Object.entries(value).map(([key, v]) => [key, normalise(v)])));
  }
  return value;
}

const cache = new Map<string, SchemaObject>();

/**
 * Reads and parses one contract file of `contracts/platform/` (for example `ofp_get_features_response.schema.yaml`).
 * Cached: the same file always yields the same frozen object, so validators compiled from it are reused.
 * Throws naming the file when it is missing, not valid YAML or not a mapping.
 */
export function loadContractSchema(fileName: string): SchemaObject {
  if (path.basename(fileName) !== fileName) {
    throw new Error(`contract file name must not contain a path: ${fileName}`);
  }
  const cached = cache.get(fileName);
  if (cached) return cached;
  const file = path.join(CONTRACTS_DIR, fileName);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'), { intAsBigInt: true });
  } catch (error) {
    throw new Error(`cannot load contract ${file}: ${(error as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error(`contract ${file}: top level is not a mapping`);
  }
  const schema = normalise(doc) as SchemaObject;
  cache.set(fileName, schema);
  return schema;
}

function payloadSchema(doc: SchemaObject, name: PayloadSchemaName): SchemaObject {
  const payloads = doc.payloads as Record<string, unknown> | undefined;
  const schema = payloads?.[name];
  if (typeof schema !== 'object' || schema === null) {
    throw new Error(`contract data_engine_6B_payloads.schema.yaml: payloads.${name} is missing`);
  }
  return schema as SchemaObject;
}

/** `canonical_event_envelope.schema.yaml`: the envelope every bus record carries (SPEC 1.2). */
export const envelopeSchema: SchemaObject = loadContractSchema('canonical_event_envelope.schema.yaml');

const payloadsDocument = loadContractSchema('data_engine_6B_payloads.schema.yaml');

/** The 6B payload schemas of `data_engine_6B_payloads.schema.yaml` (section s3). */
export const payloadSchemas: Readonly<Record<PayloadSchemaName, SchemaObject>> = Object.freeze({
  flow_anchor_with_fraud_6B: payloadSchema(payloadsDocument, 'flow_anchor_with_fraud_6B'),
  event_stream_with_fraud_6B: payloadSchema(payloadsDocument, 'event_stream_with_fraud_6B'),
});
