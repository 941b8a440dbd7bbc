/**
 * The query limits validation rule (depth, cost, aliases) over the gateway's schema: what passes, what is refused
 * with INVALID_REQUEST, and that refusing is cheap even when fragments would expand exponentially.
 */
import fs from 'node:fs';
import { buildSchema, parse, validate, type GraphQLError } from 'graphql';
import { SCHEMA_PATH } from '../../src/graphql/apollo';
import { EXAMPLE_QUERY } from '../../src/graphql/example-query';
import { queryLimitsRule, type QueryLimits } from '../../src/graphql/plugins/query-limits';

const schema = buildSchema(fs.readFileSync(SCHEMA_PATH, 'utf8'));

function check(query: string, limits?: QueryLimits): readonly GraphQLError[] {
  return validate(schema, parse(query), [queryLimitsRule(limits)]);
}
const messages = (query: string, limits?: QueryLimits) => check(query, limits).map((e) => e.message);

/** `{ __type { fields { type { ofType ... { name } } } } }` with `depth` nested selection sets. */
function deepQuery(depth: number): string {
  let selection = 'name';
  for (let i = 0; i < depth - 4; i++) selection = `ofType { ${selection} }`;
  return `{ __type(name: "Query") { fields { type { ${selection} } } } }`;
}

describe('query limits rule', () => {
  it('accepts the features query of SPEC 7', () => {
    expect(check(EXAMPLE_QUERY)).toEqual([]);
  });

  it('accepts depth 12 and refuses depth 13', () => {
    expect(messages(deepQuery(12))).toEqual([]);
    expect(messages(deepQuery(13))).toEqual(['query depth exceeds the limit of 12']);
  });

  it('refuses with extensions.code INVALID_REQUEST, not retryable', () => {
    expect(check(deepQuery(13))[0].extensions).toEqual({ code: 'INVALID_REQUEST', retryable: false });
  });

  it('accepts 500 field selections and refuses 501', () => {
    expect(messages(`{ health { ${'state '.repeat(499)} } }`)).toEqual([]);
    expect(messages(`{ health { ${'state '.repeat(500)} } }`)).toEqual([
      'query selects more fields than the limit of 500',
    ]);
  });

  it('counts fragment fields every time the fragment is spread', () => {
    const fragment = `fragment S on Health { ${'state '.repeat(200)} }`;
    expect(messages(`{ a: health { ...S } b: health { ...S } } ${fragment}`)).toEqual([]);
    expect(messages(`{ a: health { ...S } b: health { ...S } c: health { ...S } } ${fragment}`)).toEqual([
      'query selects more fields than the limit of 500',
    ]);
  });

  it('does not count inline fragments as depth', () => {
    expect(
      messages(`{ health { ... on Health { ... on Health { ... on Health { state } } } } }`, { maxDepth: 2 }),
    ).toEqual([]);
  });

  it('accepts 30 aliases and refuses 31', () => {
    const aliased = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `h${i}: health { state }`).join(' ')} }`;
    expect(messages(aliased(30))).toEqual([]);
    expect(messages(aliased(31))).toEqual(['query uses 31 aliases, more than the limit of 30']);
  });

  it('refuses an exponential fragment fan-out quickly (40 doublings would be 2^40 fields)', () => {
    const levels = 40;
    const fragments = Array.from(
      { length: levels },
      (_, i) => `fragment F${i} on Health { ...F${i + 1} ...F${i + 1} }`,
    );
    const query = `{ health { ...F0 } } ${fragments.join(' ')} fragment F${levels} on Health { state }`;
    const started = Date.now();
    expect(messages(query)).toEqual(['query selects more fields than the limit of 500']);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('terminates on fragment cycles (graphql-js reports the cycle itself)', () => {
    const query = `{ health { ...A } } fragment A on Health { state ...B } fragment B on Health { reasons ...A }`;
    expect(messages(query)).toEqual([]);
  });

  it('takes its limits from options', () => {
    expect(messages('{ health { state reasons } }', { maxCost: 2 })).toEqual([
      'query selects more fields than the limit of 2',
    ]);
    expect(messages('{ health { partitions { stream } } }', { maxDepth: 2 })).toEqual([
      'query depth exceeds the limit of 2',
    ]);
  });
});
