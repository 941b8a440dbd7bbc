/**
 * The gateway's real HTTP server twice over one gateway service: once with the GraphQL fast path, once without
 * (Apollo alone, the reference). `exchange` sends the same request to both and returns both answers as raw bytes
 * and headers, so that tests compare exactly what a client would see.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApollo } from '../../../src/graphql/apollo';
import { GraphQLFastPath } from '../../../src/graphql/fast-path';
import { fastPathRequests } from '../../../src/graphql/fast-path/metrics';
import { createGatewayServer } from '../../../src/http/server';
import { logger } from '../../../src/logger';
import { parseTokens } from '../../../src/serving/auth';
import type { Gateway } from '../../../src/serving/gateway-services';

export const READER = 'reader-token';
export const OPERATOR = 'operator-token';

export interface RawAnswer {
  status: number;
  /** Every response header but `date` (and the connection management ones), lower-case names, sorted. */
  headers: [string, string][];
  body: string;
}

export interface HttpRequest {
  /** JSON text of the body, or an object to serialize. */
  body: unknown;
  token?: string | null;
  /** Extra or replacing request headers (`content-type` defaults to application/json). */
  headers?: Record<string, string | undefined>;
  method?: string;
  path?: string;
}

const IGNORED = new Set(['date', 'connection', 'keep-alive']);

async function send(url: string, r: HttpRequest): Promise<RawAnswer> {
  // A fixed request id: otherwise the gateway draws one per request, and answers that echo it differ.
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': 'req-fixed' };
  const token = r.token === undefined ? READER : r.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  const res = await fetch(`${url}${r.path ?? '/graphql'}`, {
    method: r.method ?? 'POST',
    headers,
    body: r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body),
  });
  const body = await res.text();
  const out: [string, string][] = [];
  res.headers.forEach((v, k) => {
    if (!IGNORED.has(k)) out.push([k, v]);
  });
  out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return { status: res.status, headers: out, body };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface GatewayPair {
  fastPath: GraphQLFastPath;
  /** The same request to the fast-path gateway and to Apollo alone. */
  exchange(r: HttpRequest): Promise<{ fast: RawAnswer; apollo: RawAnswer }>;
  /** The request to the fast-path gateway only. */
  fast(r: HttpRequest): Promise<RawAnswer>;
  close(): Promise<void>;
}

export async function startGatewayPair(
  gateway: Gateway,
  options: { introspection?: boolean } = {},
): Promise<GatewayPair> {
  const tokens = parseTokens(`reader:${READER},operator:${OPERATOR}`);
  const log = logger.child({ test: 'fast-path' });
  log.level = 'silent';
  // A budget no test exhausts: the tests send many distinct queries in a few seconds.
  const fastPath = new GraphQLFastPath({ compilationBurst: 10_000 });
  const withFast = createApollo({ introspection: options.introspection, fastPath });
  const alone = createApollo({ introspection: options.introspection });
  await Promise.all([withFast.start(), alone.start()]);
  const fastServer = createGatewayServer({ gateway, apollo: withFast, fastPath, tokens, log });
  const apolloServer = createGatewayServer({ gateway, apollo: alone, tokens, log });
  const [fastUrl, apolloUrl] = await Promise.all([listen(fastServer), listen(apolloServer)]);
  return {
    fastPath,
    async exchange(r) {
      // One after the other: the canned gateway counts calls, and tests compare the counts.
      const fast = await send(fastUrl, r);
      const apollo = await send(apolloUrl, r);
      return { fast, apollo };
    },
    fast: (r) => send(fastUrl, r),
    async close() {
      for (const s of [fastServer, apolloServer]) {
        await new Promise<void>((resolve) => s.close(() => resolve()));
        s.closeAllConnections();
      }
      await Promise.all([withFast.stop(), alone.stop()]);
    },
  };
}

/** The fast path's outcome counters (all gateways of the process share them: compare differences). */
export async function fastPathCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = { answered: 0, declined: 0, handed_back: 0 };
  for (const v of (await fastPathRequests.get()).values) out[String(v.labels.outcome)] = v.value;
  return out;
}
