/**
 * GraphQL CPU per request above the database read, in process (no PostgreSQL, no HTTP): the SPEC 7 features query
 * over the canned gateway of the unit tests, answered by Apollo Server and by the gateway's fast path
 * (src/graphql/fast-path). Checks first that both give the same bytes, then reports the CPU microseconds per
 * request each adds to the request body's JSON.parse and the canned service's own work, and what compiling the query
 * costs the fast path once.
 *
 *   NODE_ENV=production npx tsx bench/graphql.bench.ts [requests=20000]
 */
import fs from 'node:fs';
import { buildSchema, parse } from 'graphql';
import { HeaderMap } from '@apollo/server';
import { createApollo, SCHEMA_PATH } from '../src/graphql/apollo';
import type { GatewayContext } from '../src/graphql/context';
import { EXAMPLE_QUERY } from '../src/graphql/example-query';
import { GraphQLFastPath } from '../src/graphql/fast-path';
import { compileOperation, selectOperation } from '../src/graphql/fast-path/compile';
import { cannedGateway } from '../test/graphql/support/canned-gateway';
import { report } from './support';

const PINS = {
  platformRunId: 'platform_20260206T170000Z',
  scenarioRunId: 'd'.repeat(32),
  scenarioId: 'baseline_v1',
  manifestFingerprint: 'b'.repeat(64),
  parameterHash: 'c'.repeat(64),
  seed: '18446744073709551615',
};
const variables = (keyId: string) => ({
  pins: PINS,
  asOf: '2026-02-06T17:05:00.123456Z',
  keys: [{ keyType: 'merchant_id', keyId }],
  groups: [{ name: 'merchant_velocity', version: 'v1' }],
});

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 20_000);
  const { gateway } = cannedGateway();
  const fastPath = new GraphQLFastPath();
  const apollo = createApollo({ fastPath });
  await apollo.start();
  const context = (): GatewayContext => ({ services: gateway, role: 'reader', requestId: 'bench-request' });
  const headers = new HeaderMap([['content-type', 'application/json']]);
  const viaApollo = async (body: unknown) => {
    const r = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: 'POST', headers, search: '', body },
      context: async () => context(),
    });
    if (r.body.kind !== 'complete') throw new Error('unexpected incremental answer');
    fastPath.learnContentType(undefined, r.status ?? 200, r.headers.get('content-type'));
    return r.body.string;
  };
  const viaFast = async (body: unknown) => {
    const r = await fastPath.execute({ body, contentType: 'application/json', accept: undefined }, context);
    if (!r.answered) throw new Error('the fast path did not answer');
    return r.body;
  };

  const sample = { query: EXAMPLE_QUERY, variables: variables('100001') };
  const apolloAnswer = await viaApollo(sample); // also teaches the fast path the query
  if ((await viaFast(sample)) !== apolloAnswer)
    throw new Error("the fast path's answer differs from Apollo's");

  // Fresh variables each request, as a client sends them.
  const body = (i: number) =>
    JSON.parse(JSON.stringify({ query: EXAMPLE_QUERY, variables: variables(String(100_000 + i)) }));
  const cpuPerRequest = async (run: (i: number) => Promise<unknown>, n: number) => {
    for (let i = 0; i < Math.min(n, 3000); i++) await run(i);
    const started = process.cpuUsage();
    for (let i = 0; i < n; i++) await run(i);
    const used = process.cpuUsage(started);
    return (used.user + used.system) / n;
  };
  const parseUs = await cpuPerRequest(async (i) => body(i), requests);
  // The canned service itself (the real request validation, a snapshot object): in both figures below.
  const serviceUs = await cpuPerRequest(async (i) => {
    const { pins, asOf, keys, groups } = body(i).variables;
    return gateway.features({ pins, asOf, keys, groups, requestId: 'bench-request' }, 'graphql');
  }, requests);
  const apolloUs = await cpuPerRequest((i) => viaApollo(body(i)), requests);
  const fastUs = await cpuPerRequest((i) => viaFast(body(i)), requests);
  report('request body (JSON.parse, both)', `${parseUs.toFixed(1)} µs CPU per request`);
  report('canned features service (in both)', `${(serviceUs - parseUs).toFixed(1)} µs CPU per request`);
  report('Apollo: features query, canned answer', `${(apolloUs - serviceUs).toFixed(1)} µs CPU per request`);
  report('fast path: the same', `${(fastUs - serviceUs).toFixed(1)} µs CPU per request`);

  // What a compilation costs (once per query text and operation, on its first fast-path request).
  const plainSchema = buildSchema(fs.readFileSync(SCHEMA_PATH, 'utf8'));
  const document = parse(EXAMPLE_QUERY);
  const operation = selectOperation(document, undefined)!;
  const started = process.cpuUsage();
  const compilations = 200;
  for (let i = 0; i < compilations; i++) compileOperation(plainSchema, document, operation);
  const used = process.cpuUsage(started);
  report(
    'compiling the features query (once)',
    `${((used.user + used.system) / compilations / 1000).toFixed(2)} ms CPU`,
  );
  await apollo.stop();
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
