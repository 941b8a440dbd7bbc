/**
 * The gateway's HTTP server: GraphQL at /graphql, the platform contract at /v1/get_features, Prometheus metrics at
 * /metrics, liveness /healthz and readiness /readyz. Bearer tokens guard /graphql and /v1/get_features.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import client from 'prom-client';
import type { GatewayContext } from '../graphql/context';
import { withLedger, type GraphQLFastPath, type RootLedger } from '../graphql/fast-path';
import { authenticate, type Role, type TokenTable } from '../serving/auth';
import type { Gateway } from '../serving/gateway-services';
import { InflightLimit, admissionMetrics, overloadDetail } from './admission';
import { handleGetFeatures, unavailableResponse } from './get-features';
import { graphiqlAsset, graphiqlPage } from './graphiql';
import type { Logger } from '../logger';

/** Largest request body accepted (bytes). */
export const MAX_BODY_BYTES = 1 << 20;

class BodyTooLargeError extends Error {}

/** Beyond this many bytes an oversized body is no longer drained: the connection is cut instead of answered. */
const MAX_DRAIN_BYTES = 64 * MAX_BODY_BYTES;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
      else if (size > MAX_DRAIN_BYTES) req.destroy(new BodyTooLargeError());
      else chunks.length = 0;
    });
    // An oversized body is read to its end (and discarded) so the 413 reaches the client: destroying the request
    // while the client is still sending resets the connection and the client sees no answer at all.
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new BodyTooLargeError());
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(body);
}

/**
 * A complete GraphQL answer, from Apollo or the fast path alike: with its length, so that both write the same
 * headers (and the body goes out in one piece instead of chunked).
 */
function sendGraphql(
  res: http.ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** A GraphQL answer carrying one error, for requests refused before Apollo or the fast path sees them. */
function graphqlErrorText(message: string, code: string, retryable: boolean): string {
  return JSON.stringify({ errors: [{ message, extensions: { code, retryable } }] });
}

function unauthorized(res: http.ServerResponse, graphql: boolean): void {
  const headers = { 'www-authenticate': 'Bearer realm="ofp"' };
  const message = 'missing or invalid bearer token';
  const body = graphql
    ? graphqlErrorText(message, 'UNAUTHENTICATED', false)
    : JSON.stringify({ error: 'unauthorized', detail: message });
  send(res, 401, body, headers);
}

export interface GatewayServerDeps {
  gateway: Gateway;
  apollo: ApolloServer<GatewayContext>;
  /** The GraphQL fast path given to createApollo, if any: it then answers the queries it can answer exactly. */
  fastPath?: GraphQLFastPath;
  tokens: TokenTable;
  log: Logger;
  /**
   * Reader requests (GraphQL, /v1/get_features) answered at once; past it they get a retryable UNAVAILABLE (503)
   * instead of a place in a queue. Operator requests are never refused for load. Default 256 (OFP_MAX_INFLIGHT).
   */
  maxInflight?: number;
}

/** The GraphQL answer to a request refused for load: UNAVAILABLE, retryable. */
function overloadedGraphql(res: http.ServerResponse, detail: string): void {
  send(res, 503, graphqlErrorText(detail, 'UNAVAILABLE', true), { 'retry-after': '1' });
}

export function createGatewayServer(deps: GatewayServerDeps): http.Server {
  const { gateway, apollo, fastPath, tokens, log } = deps;
  const limit = new InflightLimit(deps.maxInflight ?? 256);
  /** A GraphQL request of an authenticated caller: the fast path when it can answer exactly, else Apollo. */
  const answerGraphql = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    role: Role,
    requestId: string,
    search: string,
  ): Promise<void> => {
    const raw = req.method === 'POST' ? await readBody(req) : '';
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return send(res, 400, graphqlErrorText('request body is not JSON', 'INVALID_REQUEST', false));
      }
    }
    let ledger: RootLedger | undefined;
    if (fastPath && req.method === 'POST') {
      // Inline closures, not named constants: under tsx (keepNames) a named one costs a naming call per request.
      const fast = await fastPath.execute(
        { body, contentType: req.headers['content-type'], accept: req.headers.accept },
        (): GatewayContext => ({ services: gateway, role, requestId }),
      );
      if (fast.answered) return sendGraphql(res, 200, { 'content-type': fast.contentType }, fast.body);
      ledger = fast.ledger;
    }
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search, body },
      context: async () => {
        const context: GatewayContext = { services: gateway, role, requestId };
        return ledger ? withLedger(context, ledger) : context;
      },
    });
    const outHeaders: Record<string, string> = {};
    for (const [k, v] of result.headers) outHeaders[k] = v;
    const status = result.status ?? 200;
    if (result.body.kind === 'complete') {
      if (fastPath && req.method === 'POST')
        fastPath.learnContentType(req.headers.accept, status, outHeaders['content-type']);
      return sendGraphql(res, status, outHeaders, result.body.string);
    }
    res.writeHead(status, outHeaders);
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
    return;
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 128) || randomUUID();
    switch (url.pathname) {
      case '/healthz':
        return send(res, 200, JSON.stringify({ status: 'ok' }));
      case '/readyz': {
        const ready = await gateway.ready();
        return send(res, ready ? 200 : 503, JSON.stringify({ ready, policy: gateway.policy.revision }));
      }
      case '/metrics': {
        const text = await client.register.metrics();
        res.writeHead(200, { 'content-type': client.register.contentType });
        res.end(text);
        return;
      }
      case '/v1/get_features': {
        if (req.method !== 'POST')
          return send(res, 405, JSON.stringify({ error: 'method not allowed' }), { allow: 'POST' });
        if (!authenticate(tokens, req.headers.authorization)) return unauthorized(res, false);
        if (!limit.tryEnter()) {
          admissionMetrics.shed.inc({ endpoint: 'get_features' });
          const out = unavailableResponse(overloadDetail(limit), requestId);
          return send(res, out.status, out.body, { 'retry-after': '1' });
        }
        try {
          const body = await readBody(req);
          const out = await handleGetFeatures(gateway, body, requestId);
          return send(res, out.status, out.body);
        } finally {
          limit.leave();
        }
      }
      case '/graphql': {
        if (req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(graphiqlPage());
          return;
        }
        const role = authenticate(tokens, req.headers.authorization);
        if (!role) return unauthorized(res, true);
        const limited = role !== 'operator';
        if (limited && !limit.tryEnter()) {
          admissionMetrics.shed.inc({ endpoint: 'graphql' });
          return overloadedGraphql(res, overloadDetail(limit));
        }
        try {
          return await answerGraphql(req, res, role, requestId, url.search);
        } finally {
          if (limited) limit.leave();
        }
      }
      default: {
        const asset = req.method === 'GET' ? graphiqlAsset(url.pathname) : undefined;
        if (asset) {
          res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'public, max-age=86400' });
          res.end(asset.body);
          return;
        }
        return send(res, 404, JSON.stringify({ error: 'not found', path: url.pathname }));
      }
    }
  };
  return http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (err instanceof BodyTooLargeError) {
        const message = `request body larger than ${MAX_BODY_BYTES} bytes`;
        if (res.headersSent || res.destroyed) return;
        const body = req.url?.startsWith('/graphql')
          ? graphqlErrorText(message, 'INVALID_REQUEST', false)
          : JSON.stringify({ error: message });
        return send(res, 413, body);
      }
      log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'internal error' }));
      else res.end();
    });
  });
}
