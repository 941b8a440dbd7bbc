/** The gateway process: Apollo + the contract endpoint + metrics on one HTTP port. */
import type http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { EventBus } from '../bus/event-bus';
import type { FeaturePolicy } from '../core/policy';
import { createPool, warmPool } from '../db/pool';
import { createApollo } from '../graphql/apollo';
import { GraphQLFastPath } from '../graphql/fast-path';
import { createGatewayServer } from '../http/server';
import type { Logger } from '../logger';
import type { TokenTable } from '../serving/auth';
import { Gateway } from '../serving/gateway-services';
import { PortInUseError } from '../services/errors';
import { collectProcessMetrics } from '../metrics/process-metrics';

export interface GatewayOptions {
  databaseUrl: string;
  /** Without it, operator mutations answer UNAVAILABLE. */
  temporalAddress?: string;
  namespace: string;
  policy: FeaturePolicy;
  bus: EventBus;
  tokens: TokenTable;
  port: number;
  /** Listen address. Default 127.0.0.1 (OFP_HTTP_HOST). */
  host?: string;
  introspection: boolean;
  /** Whether the GraphQL fast path answers the queries it can answer exactly (OFP_GRAPHQL_FAST_PATH). Default true. */
  graphqlFastPath?: boolean;
  /** Reader requests answered at once; the excess gets a retryable UNAVAILABLE (OFP_MAX_INFLIGHT). Default 256. */
  maxInflight?: number;
  log: Logger;
  /** Workflow ID prefix for operator updates. Default `ofp`. */
  idPrefix?: string;
  /** Pool size. Default 8 (more connections than cores only add contention). */
  poolSize?: number;
  /**
   * Read statements running at once; requests that arrive while they all run share the next statement
   * (OFP_READ_CONCURRENCY). Default 2.
   */
  readConcurrency?: number;
}

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  server: http.Server;
  stop(): Promise<void>;
}

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  collectProcessMetrics();
  const poolSize = o.poolSize ?? 8;
  const pool = createPool(o.databaseUrl, {
    max: poolSize,
    applicationName: 'ofp-gateway',
    // The read is one prepared statement whose planning costs more than its execution: plan it once per connection.
    serverOptions: '-c plan_cache_mode=force_generic_plan',
    // A pooled connection whose peer vanished without a word (a network partition, a host gone) otherwise hangs its
    // query until the kernel gives up (many minutes): the request never answers. Bounded, it fails as UNAVAILABLE
    // and the dead connection is dropped. Far above any read (milliseconds) and the 5 s min-basis wait's polls.
    queryTimeoutMillis: 10_000,
    keepIdle: true,
  });
  const unwarmed = await warmPool(pool, poolSize);
  if (unwarmed)
    o.log.warn({ err: unwarmed.message }, 'database not reachable at start: connecting on demand');
  let connection: Connection | undefined;
  let client: Client | undefined;
  if (o.temporalAddress) {
    connection = await Connection.connect({ address: o.temporalAddress });
    client = new Client({ connection, namespace: o.namespace });
  }
  const gateway = new Gateway(pool, o.policy, o.bus, client, o.idPrefix, {
    maxConcurrentReads: o.readConcurrency,
  });
  const fastPath = o.graphqlFastPath === false ? undefined : new GraphQLFastPath();
  const apollo = createApollo({ introspection: o.introspection, fastPath });
  await apollo.start();
  const server = createGatewayServer({
    gateway,
    apollo,
    fastPath,
    tokens: o.tokens,
    log: o.log,
    maxInflight: o.maxInflight,
  });
  server.keepAliveTimeout = 65_000;
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(o.port, 'OFP_HTTP_PORT') : err),
    );
    server.listen(o.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  const url = `http://${host}:${port}`;
  o.log.info({ url: `${url}/graphql` }, 'gateway listening');
  return {
    url,
    gateway,
    server,
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await apollo.stop();
      await connection?.close();
      await pool.end();
    },
  };
}
