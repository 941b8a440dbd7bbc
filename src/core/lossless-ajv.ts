/**
 * JSON Schema (draft 2020-12, ajv) validation over lossless-parsed JSON trees.
 *
 * Lossless parsing turns every JSON number into a LosslessNumber object, which ajv's built-in `type`, `minimum`,
 * `maximum`, `enum` and `const` would misread (an object, never a number). Schemas are therefore rewritten before
 * compiling: those keywords become custom keywords that understand LosslessNumber and compare exactly on the source
 * text. Everything else (`pattern`, `format`, lengths, `required`, `additionalProperties`, `anyOf`, `$ref` ...) is
 * ajv's own. This module does no I/O: it takes schema objects.
 */
import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import type { DataValidateFunction, RegExpEngine, RegExpLike } from 'ajv/dist/types';
import addFormats from 'ajv-formats';
import { Decimal } from './decimal';
import { isIntegerLiteral, isIntegerText, isLosslessNumber, type LosslessNumber } from './json';

/** The custom keywords standing in for the standard ones (errors still report the standard keyword name). */
export const LOSSLESS_KEYWORDS = {
  type: 'jsonType',
  minimum: 'exactMinimum',
  maximum: 'exactMaximum',
  exclusiveMinimum: 'exactExclusiveMinimum',
  exclusiveMaximum: 'exactExclusiveMaximum',
  multipleOf: 'exactMultipleOf',
  enum: 'jsonEnum',
  const: 'jsonConst',
} as const;

/** Default bound on a number literal's exponent; see {@link LosslessAjvOptions.maxNumberExponent}. */
export const DEFAULT_MAX_NUMBER_EXPONENT = 1000;

export interface LosslessAjvOptions {
  /**
   * A number whose literal exponent exceeds this magnitude (`1e999999999`) is not accepted as a "number": its exact
   * canonical decimal would be as long as the exponent, so hashing or summing it could exhaust memory.
   */
  maxNumberExponent?: number;
}

/** Returns `null` when the data is valid, else one line naming the JSON path at fault (`payload.amount: ...`). */
export type SchemaCheck = (data: unknown) => string | null;

type Schema = Record<string, unknown>;

// Keywords whose value is a schema, a map of schemas, or an array of schemas: the rewrite descends only into these,
// so a property that happens to be called `type` or `minimum` is never renamed.
const SUBSCHEMA = new Set([
  'items',
  'additionalItems',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
]);
const SUBSCHEMA_MAP = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
]);
const SUBSCHEMA_ARRAY = new Set(['anyOf', 'allOf', 'oneOf', 'prefixItems']);

function isPlainObject(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

function mapValues(map: Schema, fn: (value: unknown) => unknown): Schema {
  const out: Schema = {};
  for (const key of Object.keys(map)) out[key] = fn(map[key]);
  return out;
}

/**
 * Rewrites a schema for lossless data (a new object; the input is not modified): `type`, `minimum`, `maximum`,
 * `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`, `enum` and `const` become the custom keywords of
 * {@link LOSSLESS_KEYWORDS}. A fragment-only `$id` (`#/s3/...`, valid in old drafts, rejected by 2020-12) is dropped.
 */
export function rewriteSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rewriteSchema); // draft-04 style tuple `items`
  if (!isPlainObject(schema)) return schema; // boolean schemas
  const out: Schema = {};
  for (const key of Object.keys(schema)) {
    const value = schema[key];
    if (Object.hasOwn(LOSSLESS_KEYWORDS, key)) {
      out[LOSSLESS_KEYWORDS[key as keyof typeof LOSSLESS_KEYWORDS]] = value;
    } else if (key === '$id' && typeof value === 'string' && value.startsWith('#')) {
      continue;
    } else if (SUBSCHEMA.has(key)) {
      out[key] = rewriteSchema(value);
    } else if (SUBSCHEMA_MAP.has(key) && isPlainObject(value)) {
      out[key] = mapValues(value, rewriteSchema);
    } else if (SUBSCHEMA_ARRAY.has(key) && Array.isArray(value)) {
      out[key] = value.map(rewriteSchema);
    } else if (key === 'dependencies' && isPlainObject(value)) {
      out[key] = mapValues(value, (v) => (Array.isArray(v) ? v : rewriteSchema(v)));
    } else {
      out[key] = value;
    }
  }
  return out;
}

// ---- exact numbers ----

/** The exact decimal text of a JSON number in any representation, or null for a non-number. */
function numberText(value: unknown): string | null {
  if (isLosslessNumber(value)) return (value as LosslessNumber).value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value === 'bigint') return value.toString();
  return null;
}

/** Exact comparison of two number texts: by their digits when both are integers (the common case), else decimal.js. */
function compareNumberText(a: string, b: string, bIsInteger: boolean): number {
  if (bIsInteger && isIntegerText(a)) return compareIntegerText(a, b);
  return new Decimal(a).cmp(new Decimal(b));
}

/**
 * Compares two integer literals (`^-?(0|[1-9][0-9]*)$`) by value without BigInt, which was a visible cost: such a
 * literal has no leading zeros, so among non-negative ones the longer is greater and equal lengths compare as text.
 */
function compareIntegerText(a: string, b: string): number {
  const aNegative = a.charCodeAt(0) === 45 /* - */ && a !== '-0';
  const bNegative = b.charCodeAt(0) === 45 && b !== '-0';
  if (aNegative !== bNegative) return aNegative ? -1 : 1;
  const x = a === '-0' ? '0' : a;
  const y = b === '-0' ? '0' : b;
  const magnitude = x.length !== y.length ? (x.length < y.length ? -1 : 1) : x < y ? -1 : x > y ? 1 : 0;
  return aNegative ? -magnitude : magnitude;
}

function exponentOf(text: string): number {
  // Two indexOf calls are cheaper than text.search(/[eE]/) for the amounts of every record.
  const lower = text.indexOf('e');
  const upper = text.indexOf('E');
  const e = lower < 0 ? upper : upper < 0 ? lower : Math.min(lower, upper);
  return e < 0 ? 0 : Math.abs(Number(text.slice(e + 1)));
}

/** Human-readable text of a schema value in an error message (JSON, with big integers written exactly). */
function display(value: unknown): string {
  const n = numberText(value);
  if (n !== null) return n;
  if (Array.isArray(value)) return `[${value.map(display).join(',')}]`;
  if (isPlainObject(value))
    return `{${Object.keys(value).map((k) => `${JSON.stringify(k)}:${display(value[k])}`)}}`;
  return JSON.stringify(value);
}

/** Deep equality where numbers compare by exact value (`1.0` equals `1`, as JSON Schema's `const` and `enum` say). */
function jsonEqual(a: unknown, b: unknown): boolean {
  const x = numberText(a);
  const y = numberText(b);
  if (x !== null || y !== null) return x !== null && y !== null && new Decimal(x).eq(new Decimal(y));
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]))
    );
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
    );
  }
  return a === b;
}

// ---- custom keyword compilers: each returns a validator that sets its own `errors` on failure ----

type Failure = Partial<ErrorObject>;

/** A validator closure; ajv reads `errors` after a failed call (a fresh object each time: ajv fills in paths). */
function validator(test: (data: unknown) => Failure | null): DataValidateFunction {
  const fn: DataValidateFunction = (data: unknown) => {
    const failure = test(data);
    if (failure === null) return true;
    fn.errors = [failure];
    return false;
  };
  return fn;
}

const TYPE_TESTS: Record<string, (d: unknown) => boolean> = {
  null: (d) => d === null,
  boolean: (d) => typeof d === 'boolean',
  string: (d) => typeof d === 'string',
  array: (d) => Array.isArray(d),
  object: (d) => isPlainObject(d),
  // A LosslessNumber is an integer only when its source text is an integer literal: `7.0` and `7e0` are not.
  integer: (d) =>
    isIntegerLiteral(d) || (typeof d === 'number' && Number.isInteger(d)) || typeof d === 'bigint',
  number: (d) =>
    isLosslessNumber(d) || (typeof d === 'number' && Number.isFinite(d)) || typeof d === 'bigint',
};

function compileJsonType(maxExponent: number) {
  return (schema: unknown): DataValidateFunction => {
    const types = Array.isArray(schema) ? (schema as unknown[]) : [schema];
    for (const t of types) {
      if (typeof t !== 'string' || !Object.hasOwn(TYPE_TESTS, t))
        throw new Error(`type: unknown JSON type ${display(t)}`);
    }
    const names = types as string[];
    const expected = names.join(' or ');
    const tests = names.map((t) => TYPE_TESTS[t]);
    const wrongType = (): Failure => ({
      keyword: 'type',
      message: `must be ${expected}`,
      params: { type: expected },
    });
    if (!names.includes('number')) {
      // The usual schema names one type: test it directly (this runs for every field of every record).
      const only = tests.length === 1 ? tests[0] : null;
      return validator((data) =>
        (only !== null ? only(data) : tests.some((test) => test(data))) ? null : wrongType(),
      );
    }
    return validator((data) => {
      if (!tests.some((test) => test(data))) return wrongType();
      if (isLosslessNumber(data) && exponentOf((data as LosslessNumber).value) > maxExponent) {
        return {
          keyword: 'type',
          message: `must be ${expected} with an exponent of at most ${maxExponent}`,
          params: { type: expected },
        };
      }
      return null;
    });
  };
}

const BOUNDS = {
  exactMinimum: { keyword: 'minimum', comparison: '>=', ok: (c: number) => c >= 0 },
  exactMaximum: { keyword: 'maximum', comparison: '<=', ok: (c: number) => c <= 0 },
  exactExclusiveMinimum: { keyword: 'exclusiveMinimum', comparison: '>', ok: (c: number) => c > 0 },
  exactExclusiveMaximum: { keyword: 'exclusiveMaximum', comparison: '<', ok: (c: number) => c < 0 },
} as const;

function compileBound(bound: (typeof BOUNDS)[keyof typeof BOUNDS]) {
  return (schema: unknown): DataValidateFunction => {
    const limit = numberText(schema);
    if (limit === null) throw new Error(`${bound.keyword}: limit must be a number`);
    const limitIsInteger = isIntegerText(limit);
    const message = `must be ${bound.comparison} ${limit}`;
    return validator((data) => {
      const text = numberText(data);
      // Like ajv's own: a bound applies to numbers only (the type keyword rejects anything else).
      if (text === null || bound.ok(compareNumberText(text, limit, limitIsInteger))) return null;
      return { keyword: bound.keyword, message, params: { comparison: bound.comparison, limit } };
    });
  };
}

function compileMultipleOf(schema: unknown): DataValidateFunction {
  const divisorText = numberText(schema);
  if (divisorText === null || !new Decimal(divisorText).gt(0))
    throw new Error('multipleOf: must be a positive number');
  const divisor = new Decimal(divisorText);
  return validator((data) => {
    const text = numberText(data);
    if (text === null || new Decimal(text).mod(divisor).isZero()) return null;
    return {
      keyword: 'multipleOf',
      message: `must be multiple of ${divisorText}`,
      params: { multipleOf: divisorText },
    };
  });
}

function compileEnum(schema: unknown): DataValidateFunction {
  if (!Array.isArray(schema)) throw new Error('enum: must be an array');
  const allowed = schema as unknown[];
  const message = `must be one of ${allowed.map(display).join(', ')}`;
  // Enums of strings, booleans and null (all of the platform's) are a Set lookup; numbers need exact comparison.
  const primitive = allowed.every((v) => v === null || typeof v === 'string' || typeof v === 'boolean');
  const set = new Set(allowed);
  const has = primitive ? (d: unknown) => set.has(d) : (d: unknown) => allowed.some((v) => jsonEqual(d, v));
  return validator((data) =>
    has(data) ? null : { keyword: 'enum', message, params: { allowedValues: allowed } },
  );
}

function compileConst(schema: unknown): DataValidateFunction {
  const message = `must be equal to ${display(schema)}`;
  return validator((data) =>
    jsonEqual(data, schema) ? null : { keyword: 'const', message, params: { allowedValue: schema } },
  );
}

// ---- error messages ----

/** Joins a root path (`payload`) and an ajv instance path (`/items/0/id`) into `payload.items[0].id`. */
export function jsonPath(rootPath: string, instancePath: string, property?: string): string {
  let path = rootPath;
  const append = (name: string) => (path = path === '' ? name : `${path}.${name}`);
  if (instancePath !== '') {
    for (const raw of instancePath.slice(1).split('/')) {
      const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      // ajv writes array indices as plain digits; an object key made of digits reads the same, which is harmless here.
      if (/^[0-9]+$/.test(segment)) path += `[${segment}]`;
      else append(segment);
    }
  }
  if (property !== undefined) append(property);
  return path === '' ? '(root)' : path;
}

function describeOne(error: ErrorObject, rootPath: string): { path: string; message: string } {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    return {
      path: jsonPath(rootPath, error.instancePath, String(params.missingProperty)),
      message: 'is required',
    };
  }
  if (error.keyword === 'additionalProperties') {
    return {
      path: jsonPath(rootPath, error.instancePath, String(params.additionalProperty)),
      message: 'is not an allowed property',
    };
  }
  return { path: jsonPath(rootPath, error.instancePath), message: error.message ?? `fails ${error.keyword}` };
}

/**
 * One line for a failed validation (ajv stops at the first failure, so the last error is the one that decided).
 * An `anyOf` failure lists what its branches wanted: `scenario_id: must be string or must be integer`.
 */
export function formatErrors(errors: readonly ErrorObject[] | null | undefined, rootPath = ''): string {
  if (!errors || errors.length === 0) return `${jsonPath(rootPath, '')}: is invalid`;
  const last = errors[errors.length - 1];
  if (last.keyword !== 'anyOf' && last.keyword !== 'oneOf') {
    const { path, message } = describeOne(last, rootPath);
    return `${path}: ${message}`;
  }
  const branches = errors
    .filter((e) => e !== last && e.schemaPath.startsWith(`${last.schemaPath}/`))
    .map((e) => describeOne(e, rootPath));
  const path = jsonPath(rootPath, last.instancePath);
  if (branches.length > 0 && branches.every((b) => b.path === path)) {
    return `${path}: ${[...new Set(branches.map((b) => b.message))].join(' or ')}`;
  }
  const detail = [...new Set(branches.map((b) => `${b.path}: ${b.message}`))].join('; ');
  return `${path}: ${last.message ?? 'must match a schema in anyOf'}${detail ? ` (${detail})` : ''}`;
}

// ---- patterns ----

/** How many recent matches each pattern remembers: one hex pattern serves several fields of one record. */
const REMEMBERED_MATCHES = 4;
/** Longer matches are not remembered, so that the memo never holds on to large strings. */
const MAX_REMEMBERED_LENGTH = 256;

/**
 * ajv's RegExp engine (`code.regExp`): the standard RegExp, remembering the last few strings it matched. Records of one
 * run repeat the same hex pins and fingerprints, so most pattern tests become a string comparison or two. A RegExp
 * without the `g` or `y` flag (ajv passes `u` or nothing) is a pure function of the string, so the answer is the same.
 */
const rememberingRegExp: RegExpEngine = Object.assign(
  (pattern: string, flags: string): RegExpLike => {
    const rx = new RegExp(pattern, flags);
    const matches: string[] = [];
    let next = 0;
    const remembering = {
      test(text: string): boolean {
        for (let i = 0; i < matches.length; i++) if (matches[i] === text) return true;
        if (!rx.test(text)) return false;
        if (text.length <= MAX_REMEMBERED_LENGTH) {
          matches[next] = text;
          next = (next + 1) % REMEMBERED_MATCHES;
        }
        return true;
      },
      // ajv shares one compiled pattern per distinct `toString()`.
      toString: () => rx.toString(),
    };
    return remembering;
  },
  // Only read when generating standalone code, which then uses plain RegExps.
  { code: 'new RegExp' },
);

// ---- the validator factory ----

/**
 * An ajv (draft 2020-12, ajv-formats) instance set up for lossless data. Compiles each schema object once.
 */
export class LosslessAjv {
  /** The underlying ajv instance (custom keywords registered), for adding shared schemas referenced by `$ref`. */
  readonly ajv: Ajv2020;
  private readonly compiled = new WeakMap<object, ValidateFunction>();

  constructor(options: LosslessAjvOptions = {}) {
    // strict off: the platform schemas carry annotations ajv does not know (`version`), and rewritten schemas have
    // no `type`, which strictTypes would warn about on every compile.
    this.ajv = new Ajv2020({ strict: false, allErrors: false, code: { regExp: rememberingRegExp } });
    addFormats(this.ajv);
    const maxExponent = options.maxNumberExponent ?? DEFAULT_MAX_NUMBER_EXPONENT;
    // `before: 'const'` puts the type test ahead of const/enum/anyOf..., so a wrong type is the error reported.
    this.ajv.addKeyword({
      keyword: 'jsonType',
      before: 'const',
      errors: true,
      compile: compileJsonType(maxExponent),
    });
    for (const [keyword, bound] of Object.entries(BOUNDS)) {
      this.ajv.addKeyword({ keyword, errors: true, compile: compileBound(bound) });
    }
    this.ajv.addKeyword({ keyword: 'exactMultipleOf', errors: true, compile: compileMultipleOf });
    this.ajv.addKeyword({ keyword: 'jsonEnum', errors: true, compile: compileEnum });
    this.ajv.addKeyword({ keyword: 'jsonConst', errors: true, compile: compileConst });
  }

  /** Compiles a (not yet rewritten) schema; the same schema object always yields the same validate function. */
  compile(schema: object): ValidateFunction {
    let validate = this.compiled.get(schema);
    if (!validate) {
      validate = this.ajv.compile(rewriteSchema(schema) as Schema);
      this.compiled.set(schema, validate);
    }
    return validate;
  }

  /** A checker returning null when valid, else one line naming the path at fault under `rootPath`. */
  check(schema: object, rootPath = ''): SchemaCheck {
    const validate = this.compile(schema);
    return (data) => (validate(data) ? null : formatErrors(validate.errors, rootPath));
  }
}
