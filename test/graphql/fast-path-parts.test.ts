/** The fast path's parts on their own: which HTTP requests and documents it takes, and what it remembers. */
import { parse } from 'graphql';
import { isEligibleDocument, selectOperation } from '../../src/graphql/fast-path/compile';
import { DocumentCache, type DocumentCacheLimits } from '../../src/graphql/fast-path/documents';
import { operationRequestOf } from '../../src/graphql/fast-path/request';
import { buildSchema } from 'graphql';
import { ConfigError, loadConfig } from '../../src/config';

describe('operationRequestOf: the HTTP requests Apollo takes as they are', () => {
  const json = 'application/json';
  it.each<[string, unknown, string | undefined, boolean]>([
    ['a query', { query: '{ a }' }, json, true],
    ['variables and operationName', { query: '{ a }', variables: { x: 1 }, operationName: 'A' }, json, true],
    [
      'null variables and operationName',
      { query: '{ a }', variables: null, operationName: null },
      json,
      true,
    ],
    ['a charset', { query: '{ a }' }, 'application/json; charset=utf-8', true],
    ['text/plain (CSRF prevention)', { query: '{ a }' }, 'text/plain', false],
    ['no content type', { query: '{ a }' }, undefined, false],
    ['leading whitespace in the content type', { query: '{ a }' }, ' application/json', false],
    ['extensions', { query: '{ a }', extensions: {} }, json, false],
    ['an empty query', { query: '' }, json, false],
    ['no query', { variables: {} }, json, false],
    ['variables as an array', { query: '{ a }', variables: [] }, json, false],
    ['variables as a string', { query: '{ a }', variables: '{}' }, json, false],
    ['operationName as a number', { query: '{ a }', operationName: 1 }, json, false],
    ['a batch', [{ query: '{ a }' }], json, false],
    ['no body', undefined, json, false],
  ])('%s', (_name, body, contentType, taken) => {
    expect(operationRequestOf({ body, contentType, accept: undefined }) !== undefined).toBe(taken);
  });

  it('treats null variables and operationName as absent, as Apollo does', () => {
    expect(
      operationRequestOf({
        body: { query: 'q', variables: null, operationName: null },
        contentType: json,
        accept: undefined,
      }),
    ).toEqual({ query: 'q', variables: undefined, operationName: undefined });
  });
});

describe('isEligibleDocument: what graphql-jit runs exactly as graphql-js', () => {
  it.each<[string, string, boolean]>([
    [
      'fields, aliases, fragments, __typename',
      'query Q($k: [K!]!) { a: f(keys: $k) { __typename ...F } } fragment F on T { x }',
      true,
    ],
    ['literal objects and lists without variables', '{ f(pins: {a: "1"}, keys: [{b: "2"}]) { x } }', true],
    ['a variable default that is an object', 'query($p: P = {a: "1"}) { f(pins: $p) { x } }', true],
    ['a directive on a field', 'query($s: Boolean!) { f { x @skip(if: $s) } }', false],
    ['a directive on a fragment spread', '{ f { ...F @include(if: true) } } fragment F on T { x }', false],
    ['a directive on the operation', 'query @live { f { x } }', false],
    ['__schema', '{ __schema { types { name } } }', false],
    ['__type inside a fragment', '{ f { x } } fragment F on Query { __type(name: "T") { name } }', false],
    ['a variable inside a literal object', 'query($r: String) { f(pins: {runId: $r}) { x } }', false],
    ['a variable inside a literal list', 'query($k: K) { f(keys: [$k]) { x } }', false],
  ])('%s', (_name, text, eligible) => {
    expect(isEligibleDocument(parse(text))).toBe(eligible);
  });

  it('selects the operation graphql-js would run, and none where graphql-js reports an error', () => {
    const two = parse('query A { a } query B { b }');
    expect(selectOperation(two, 'B')?.name?.value).toBe('B');
    expect(selectOperation(two, undefined)).toBeUndefined();
    expect(selectOperation(two, '')).toBeUndefined();
    expect(selectOperation(two, 'C')).toBeUndefined();
    expect(selectOperation(parse('{ a }'), undefined)).toBeDefined();
    expect(selectOperation(parse('{ a }'), '')).toBeUndefined();
  });
});

describe('DocumentCache: bounded by what clients send', () => {
  const schema = buildSchema('type Query { a: Int b: Int }');
  const text = (i: number) => `{ a${i}: a }`;
  const limits = (l: Partial<DocumentCacheLimits>): DocumentCacheLimits => ({
    maxDocuments: 64,
    maxOperationsPerDocument: 8,
    maxQueryLength: 1000,
    compilationBurst: 100,
    compilationsPerSecond: 100,
    ...l,
  });

  it('compiles within its budget; past it, requests stay with Apollo until the budget refills', async () => {
    const cache = new DocumentCache(limits({ compilationBurst: 2, compilationsPerSecond: 20 }));
    for (let i = 0; i < 3; i++) cache.learn(text(i), parse(text(i)));
    expect(cache.compiled(schema, text(0), undefined)).toBeDefined();
    expect(cache.compiled(schema, text(1), undefined)).toBeDefined();
    expect(cache.compiled(schema, text(2), undefined)).toBeUndefined();
    expect(cache.compiled(schema, text(0), undefined)).toBeDefined(); // compiled before: no budget needed
    await new Promise((r) => setTimeout(r, 120));
    expect(cache.compiled(schema, text(2), undefined)).toBeDefined();
  });

  it('compiles at most maxOperationsPerDocument operations of one document; the others stay with Apollo', () => {
    const cache = new DocumentCache(limits({ maxOperationsPerDocument: 2 }));
    const many = [0, 1, 2, 3].map((i) => `query Q${i} { a }`).join(' ');
    cache.learn(many, parse(many));
    expect(cache.compiled(schema, many, 'Q0')).toBeDefined();
    expect(cache.compiled(schema, many, 'Q1')).toBeDefined();
    expect(cache.compiled(schema, many, 'Q2')).toBeUndefined();
    expect(cache.compiled(schema, many, 'Q0')).toBeDefined(); // compiled before: still served
  });

  it('forgets the least recently used text first, so a text in use stays', () => {
    const cache = new DocumentCache(limits({ maxDocuments: 4, maxQueryLength: 1000 }));
    for (let i = 0; i < 4; i++) cache.learn(text(i), parse(text(i)));
    expect(cache.compiled(schema, text(0), undefined)).toBeDefined(); // text 0 is now the most recent
    for (let i = 4; i < 7; i++) cache.learn(text(i), parse(text(i)));
    expect(cache.size).toBe(4);
    expect(cache.compiled(schema, text(0), undefined)).toBeDefined();
    expect(cache.compiled(schema, text(1), undefined)).toBeUndefined();
    expect(cache.compiled(schema, text(6), undefined)).toBeDefined();
  });

  it('does not remember long texts, nor documents it would never run', () => {
    const cache = new DocumentCache(limits({ maxDocuments: 4, maxQueryLength: 10 }));
    const long = `{ ${'a '.repeat(10)}}`;
    cache.learn(long, parse(long));
    cache.learn('{ __schema { description } }'.slice(0, 9), parse('{ a @skip(if: true) }'));
    expect(cache.size).toBe(0);
  });

  it('compiles queries only; a mutation is left to Apollo', () => {
    const withMutation = buildSchema('type Query { a: Int } type Mutation { m: Int }');
    const cache = new DocumentCache(limits({ maxDocuments: 4, maxQueryLength: 1000 }));
    const doc = 'query Q { a } mutation M { m }';
    cache.learn(doc, parse(doc));
    expect(cache.compiled(withMutation, doc, 'Q')).toBeDefined();
    expect(cache.compiled(withMutation, doc, 'M')).toBeUndefined();
  });
});

describe('OFP_GRAPHQL_FAST_PATH', () => {
  it.each<[string | undefined, boolean]>([
    [undefined, true],
    ['', true],
    ['1', true],
    ['true', true],
    ['0', false],
    ['false', false],
  ])('%s → %s', (value, on) => {
    expect(loadConfig({ OFP_GRAPHQL_FAST_PATH: value }).graphqlFastPath).toBe(on);
  });

  it('refuses anything else', () => {
    expect(() => loadConfig({ OFP_GRAPHQL_FAST_PATH: 'off' })).toThrow(ConfigError);
  });
});
