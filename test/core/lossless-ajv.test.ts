/**
 * Specification of JSON Schema validation over lossless JSON trees (src/core/lossless-ajv.ts) and of the contract
 * loader (src/contracts). Data is parsed with parseLossless, so every number is a LosslessNumber with its source text.
 */
import fc from 'fast-check';
import { envelopeSchema, loadContractSchema, payloadSchemas } from '../../src/contracts';
import { parseLossless } from '../../src/core/json';
import { LosslessAjv, formatErrors, jsonPath, rewriteSchema } from '../../src/core/lossless-ajv';

const ajv = new LosslessAjv();

/** Validates JSON text against a schema; null when valid, else the one-line reason. */
function check(schema: object, json: string, rootPath = ''): string | null {
  return ajv.check(schema, rootPath)(parseLossless(json));
}

describe('schema rewrite', () => {
  test('type, minimum, maximum, enum and const become the lossless keywords', () => {
    const rewritten = rewriteSchema({ type: 'integer', minimum: 0, maximum: 9, enum: [1, 2], const: 1 });
    expect(rewritten).toEqual({
      jsonType: 'integer',
      exactMinimum: 0,
      exactMaximum: 9,
      jsonEnum: [1, 2],
      jsonConst: 1,
    });
  });

  test('keywords are renamed inside subschemas, never in property names', () => {
    const schema = {
      type: 'object',
      properties: { type: { type: 'string' }, minimum: { anyOf: [{ type: 'integer', minimum: 0 }] } },
      $defs: { n: { type: 'number' } },
      items: { type: 'null' },
    };
    expect(rewriteSchema(schema)).toEqual({
      jsonType: 'object',
      properties: {
        type: { jsonType: 'string' },
        minimum: { anyOf: [{ jsonType: 'integer', exactMinimum: 0 }] },
      },
      $defs: { n: { jsonType: 'number' } },
      items: { jsonType: 'null' },
    });
  });

  test('the input schema is left unchanged', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer' } } };
    rewriteSchema(schema);
    expect(schema).toEqual({ type: 'object', properties: { a: { type: 'integer' } } });
  });

  test('a fragment-only $id (invalid in draft 2020-12) is dropped, a real one kept', () => {
    expect(rewriteSchema({ $id: '#/s3/x', type: 'object' })).toEqual({ jsonType: 'object' });
    expect(rewriteSchema({ $id: 'a.schema.yaml', type: 'object' })).toEqual({
      $id: 'a.schema.yaml',
      jsonType: 'object',
    });
  });
});

describe('type over lossless numbers', () => {
  test('a LosslessNumber is a number, whatever its literal form', () => {
    for (const n of ['7', '-7', '7.0', '7e0', '1.5e2', '-0.0', '0.1', '123456789012345678901234567890']) {
      expect(check({ type: 'number' }, n)).toBeNull();
    }
  });

  test('a LosslessNumber is an integer only when its source text is an integer literal', () => {
    for (const n of ['7', '-7', '0', '-0', '18446744073709551616'])
      expect(check({ type: 'integer' }, n)).toBeNull();
    for (const n of ['7.0', '7e0', '1.5e2', '7E0', '0.5'])
      expect(check({ type: 'integer' }, n)).toBe('(root): must be integer');
  });

  test('a LosslessNumber is never an object', () => {
    expect(check({ type: 'object' }, '7')).toBe('(root): must be object');
    expect(check({ type: 'object', required: ['value'] }, '7')).toBe('(root): must be object');
  });

  test('nothing is coerced: strings, booleans and null are not numbers', () => {
    for (const v of ['"7"', 'true', 'null', '[]', '{}'])
      expect(check({ type: 'number' }, v)).toBe('(root): must be number');
  });

  test('the other JSON types are recognised', () => {
    expect(check({ type: 'string' }, '"x"')).toBeNull();
    expect(check({ type: 'boolean' }, 'false')).toBeNull();
    expect(check({ type: 'null' }, 'null')).toBeNull();
    expect(check({ type: 'array' }, '[1]')).toBeNull();
    expect(check({ type: 'object' }, '{"a":1}')).toBeNull();
    expect(check({ type: 'string' }, '7')).toBe('(root): must be string');
  });

  test('a type list accepts any of its types', () => {
    const schema = { type: ['null', 'string'] };
    expect(check(schema, 'null')).toBeNull();
    expect(check(schema, '"c1"')).toBeNull();
    expect(check(schema, '3')).toBe('(root): must be null or string');
  });

  test('plain JS numbers (non-lossless trees) are understood too', () => {
    const validate = ajv.check({ type: 'integer', minimum: 0 });
    expect(validate(7)).toBeNull();
    expect(validate(7.5)).toBe('(root): must be integer');
    expect(validate(-1)).toBe('(root): must be >= 0');
  });

  test('a number whose exponent is beyond the bound is refused (its exact decimal would be huge)', () => {
    expect(check({ type: 'number' }, '1e1000')).toBeNull();
    expect(check({ type: 'number' }, '1e1001')).toBe(
      '(root): must be number with an exponent of at most 1000',
    );
    expect(check({ type: 'number' }, '1e-999999999')).toMatch(/exponent/);
    expect(check({ type: 'number' }, '1E1001')).toMatch(/exponent/);
    expect(check({ type: 'number' }, '-1.5E+1000')).toBeNull();
    expect(check({ type: ['null', 'number'] }, '1e1001')).toBe(
      '(root): must be null or number with an exponent of at most 1000',
    );
    const lenient = new LosslessAjv({ maxNumberExponent: Number.POSITIVE_INFINITY });
    expect(lenient.check({ type: 'number' })(parseLossless('1e999999999'))).toBeNull();
  });
});

describe('exact bounds', () => {
  const uint64 = { type: 'integer', minimum: 0, maximum: 18446744073709551615n };

  test('uint64 bounds compare every digit (BigInt limits)', () => {
    expect(check(uint64, '0')).toBeNull();
    expect(check(uint64, '18446744073709551615')).toBeNull();
    expect(check(uint64, '18446744073709551616')).toBe('(root): must be <= 18446744073709551615');
    expect(check(uint64, '-1')).toBe('(root): must be >= 0');
  });

  test('-0 is zero, so it meets minimum 0', () => {
    expect(check(uint64, '-0')).toBeNull();
  });

  test('decimals compare exactly, never through a double', () => {
    expect(check({ maximum: 10.5 }, '10.50000000000000000001')).toBe('(root): must be <= 10.5');
    expect(check({ maximum: 10.5 }, '10.5000000000000000000')).toBeNull();
    expect(check({ minimum: 9007199254740993n }, '9007199254740992')).toBe(
      '(root): must be >= 9007199254740993',
    );
    expect(check({ minimum: 1 }, '1e0')).toBeNull();
  });

  test('exclusive bounds and multipleOf are exact too', () => {
    expect(check({ exclusiveMinimum: 0 }, '0')).toBe('(root): must be > 0');
    expect(check({ exclusiveMaximum: 1 }, '0.99999999999999999999')).toBeNull();
    expect(check({ multipleOf: 0.01 }, '0.07')).toBeNull(); // 0.07 / 0.01 is not integral in binary doubles
    expect(check({ multipleOf: 0.01 }, '0.075')).toBe('(root): must be multiple of 0.01');
  });

  test('integer bounds compare as BigInt would, for any integer literals', () => {
    // Integer data against integer limits is compared digit by digit (no BigInt); BigInt is the reference.
    const literal = fc
      .tuple(fc.boolean(), fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,22}$/)))
      .map(([negative, digits]) => `${negative ? '-' : ''}${digits}`);
    const limit = fc.oneof(
      fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }),
      fc.constantFrom(0n, -1n, 1n, 18446744073709551615n, -18446744073709551615n),
    );
    fc.assert(
      fc.property(literal, limit, (data, bound) => {
        const value = BigInt(data);
        expect(check({ minimum: bound }, data)).toBe(value >= bound ? null : `(root): must be >= ${bound}`);
        expect(check({ maximum: bound }, data)).toBe(value <= bound ? null : `(root): must be <= ${bound}`);
        expect(check({ exclusiveMinimum: bound }, data)).toBe(
          value > bound ? null : `(root): must be > ${bound}`,
        );
        expect(check({ exclusiveMaximum: bound }, data)).toBe(
          value < bound ? null : `(root): must be < ${bound}`,
        );
      }),
      { numRuns: 300 },
    );
  });

  test('bounds do not apply to non-numbers (the type keyword rejects those)', () => {
    expect(check({ minimum: 0 }, '"-5"')).toBeNull();
    expect(check({ type: 'integer', minimum: 0 }, '"5"')).toBe('(root): must be integer');
  });
});

describe('enum and const', () => {
  test('string enums and consts work as usual', () => {
    const schema = { type: 'string', enum: ['GREEN', 'AMBER', 'RED'] };
    expect(check(schema, '"AMBER"')).toBeNull();
    expect(check(schema, '"BLUE"')).toBe('(root): must be one of "GREEN", "AMBER", "RED"');
    expect(check({ const: 'OK' }, '"OK"')).toBeNull();
    expect(check({ const: 'OK' }, '"ok"')).toBe('(root): must be equal to "OK"');
  });

  test('numbers in enum and const compare by exact value', () => {
    expect(check({ enum: [1, 2] }, '1.0')).toBeNull();
    expect(check({ enum: [1, 2] }, '3')).toBe('(root): must be one of 1, 2');
    expect(check({ const: 18446744073709551615n }, '18446744073709551615')).toBeNull();
    expect(check({ const: 18446744073709551615n }, '18446744073709551614')).not.toBeNull();
    expect(check({ enum: ['1'] }, '1')).not.toBeNull(); // a string is not a number
  });

  test('structured consts compare deeply', () => {
    expect(check({ const: { a: [1, 'x'] } }, '{"a":[1.0,"x"]}')).toBeNull();
    expect(check({ const: { a: [1, 'x'] } }, '{"a":[1,"y"]}')).not.toBeNull();
  });
});

describe('ajv keywords that keep working', () => {
  test('pattern, minLength and maxLength (lengths count code points)', () => {
    expect(check({ type: 'string', pattern: '^[a-f0-9]{4}$' }, '"ab12"')).toBeNull();
    expect(check({ type: 'string', pattern: '^[a-f0-9]{4}$' }, '"AB12"')).toBe(
      '(root): must match pattern "^[a-f0-9]{4}$"',
    );
    expect(check({ type: 'string', minLength: 1 }, '""')).toBe(
      '(root): must NOT have fewer than 1 characters',
    );
    expect(check({ type: 'string', maxLength: 2 }, '"😀😀"')).toBeNull();
  });

  test('patterns answer alike however their recent matches repeat (ajv remembers the last few)', () => {
    const hexAjv = new LosslessAjv();
    const schema = {
      properties: {
        a: { type: 'string', pattern: '^[a-f0-9]{8}$' },
        b: { type: 'string', pattern: '^[a-f0-9]{8}$' },
        c: { type: 'string', pattern: '^[a-f0-9]{4}$' },
      },
    };
    const validate = hexAjv.check(schema);
    const value = fc.constantFrom(
      'deadbeef',
      'cafebabe',
      '0000ffff',
      '12345678',
      'abcd',
      'ABCDEF01',
      'dead',
      '',
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), value), { maxLength: 30 }), (steps) => {
        for (const [field, text] of steps) {
          const pattern = schema.properties[field as 'a' | 'b' | 'c'].pattern;
          const expected = new RegExp(pattern, 'u').test(text)
            ? null
            : `${field}: must match pattern "${pattern}"`;
          expect(validate({ [field]: text })).toBe(expected);
        }
      }),
    );
  });

  test('format uuid', () => {
    const schema = { type: 'string', format: 'uuid' };
    expect(check(schema, '"123e4567-e89b-12d3-a456-426614174000"')).toBeNull();
    expect(check(schema, '"not-a-uuid"')).toBe('(root): must match format "uuid"');
  });

  test('required and additionalProperties name the property at fault', () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      required: ['a'],
      properties: { a: { type: 'integer' } },
    };
    expect(check(schema, '{"a":1}', 'payload')).toBeNull();
    expect(check(schema, '{}', 'payload')).toBe('payload.a: is required');
    expect(check(schema, '{"a":1,"b":2}', 'payload')).toBe('payload.b: is not an allowed property');
  });

  test('$ref into $defs', () => {
    const schema = {
      $defs: { hex: { type: 'string', pattern: '^[a-f0-9]+$' } },
      properties: { h: { $ref: '#/$defs/hex' } },
    };
    expect(check(schema, '{"h":"beef"}')).toBeNull();
    expect(check(schema, '{"h":"BEEF"}')).toBe('h: must match pattern "^[a-f0-9]+$"');
  });

  test('anyOf reports what each branch wanted', () => {
    const schema = {
      properties: {
        scenario_id: {
          anyOf: [
            { type: 'string', minLength: 1 },
            { type: 'integer', minimum: 0 },
          ],
        },
      },
    };
    expect(check(schema, '{"scenario_id":"s"}')).toBeNull();
    expect(check(schema, '{"scenario_id":5}')).toBeNull();
    expect(check(schema, '{"scenario_id":5.5}')).toBe('scenario_id: must be string or must be integer');
    expect(check(schema, '{"scenario_id":-1}')).toBe('scenario_id: must be string or must be >= 0');
  });
});

describe('error paths', () => {
  test('nested fields and array items are named by their JSON path', () => {
    const schema = {
      type: 'object',
      properties: {
        items: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' } } } },
      },
    };
    expect(check(schema, '{"items":[{"id":1},{"id":2.5}]}', 'payload')).toBe(
      'payload.items[1].id: must be integer',
    );
  });

  test('jsonPath joins a root path, a JSON pointer and a property', () => {
    expect(jsonPath('', '')).toBe('(root)');
    expect(jsonPath('payload', '')).toBe('payload');
    expect(jsonPath('payload', '/amount')).toBe('payload.amount');
    expect(jsonPath('', '/a~1b/0', 'c')).toBe('a/b[0].c');
  });

  test('formatErrors without errors still says something', () => {
    expect(formatErrors([], 'payload')).toBe('payload: is invalid');
  });
});

describe('compiling', () => {
  test('a schema object is compiled once', () => {
    const schema = { type: 'integer' };
    expect(ajv.compile(schema)).toBe(ajv.compile(schema));
  });

  test('a schema with an unknown type is a programming error, reported at compile time', () => {
    expect(() => new LosslessAjv().compile({ type: 'decimal' })).toThrow(/unknown JSON type/);
  });
});

describe('platform contracts (src/contracts)', () => {
  const FILES = [
    'canonical_event_envelope.schema.yaml',
    'data_engine_6B_payloads.schema.yaml',
    'eb_offset_basis.schema.yaml',
    'feature_snapshot.schema.yaml',
    'graph_version.schema.yaml',
    'ofp_get_features_error.schema.yaml',
    'ofp_get_features_request.schema.yaml',
    'ofp_get_features_response.schema.yaml',
  ];

  test.each(FILES)('%s loads and compiles', (file) => {
    const schema = loadContractSchema(file);
    expect(() => new LosslessAjv().compile(schema)).not.toThrow();
  });

  test('the envelope and both payload schemas are exported', () => {
    expect(envelopeSchema.title).toBe('Canonical Event Envelope');
    expect(Object.keys(payloadSchemas).sort()).toEqual([
      'event_stream_with_fraud_6B',
      'flow_anchor_with_fraud_6B',
    ]);
    expect((payloadSchemas.flow_anchor_with_fraud_6B.required as string[]).length).toBe(16);
  });

  test('an integer beyond 2^53 in YAML keeps every digit (BigInt); ordinary integers stay numbers', () => {
    const uint64 = (envelopeSchema.$defs as Record<string, Record<string, unknown>>).uint64;
    expect(uint64.maximum).toBe(18446744073709551615n);
    expect(uint64.minimum).toBe(0);
  });

  test('loading is cached and the schemas are frozen', () => {
    expect(loadContractSchema('canonical_event_envelope.schema.yaml')).toBe(envelopeSchema);
    expect(Object.isFrozen(envelopeSchema)).toBe(true);
  });

  test('a file name with a path or a missing file is refused, naming the file', () => {
    expect(() => loadContractSchema('../package.json')).toThrow(/must not contain a path/);
    expect(() => loadContractSchema('nope.schema.yaml')).toThrow(/nope\.schema\.yaml/);
  });
});
