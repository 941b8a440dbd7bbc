/**
 * Process configuration from environment variables (SPEC 10). Every variable the code reads is listed in
 * `CONFIG_VARIABLES`, so that deployment files can be checked against it.
 */
import path from 'node:path';

export interface OfpConfig {
  /** PostgreSQL URL; undefined means "start embedded PostgreSQL under dataDir". */
  databaseUrl: string | undefined;
  /** Temporal frontend host:port; undefined means "start the embedded dev server under dataDir". */
  temporalAddress: string | undefined;
  /** Temporal namespace. Default `default`. */
  temporalNamespace: string;
  /** Task queue of the projector worker. Default `ofp-projector`. */
  taskQueue: string;
  /** Records per apply transaction. Default 2000. */
  batchSize: number;
  /** Batches one projector activity may apply back to back. Default 16. */
  batchesPerActivity: number;
  /** Prefix of workflow and schedule IDs. Default `ofp` (SPEC 9); only tests sharing a Temporal server change it. */
  idPrefix: string;
  /** Embedded services' data. Default `.data`. */
  dataDir: string;
  /** File bus root. Default `<dataDir>/bus`. */
  busRoot: string;
  /** Feature policy file. Default `config/features.yaml`. */
  policyPath: string;
  /** Gateway port. Default 4000. */
  httpPort: number;
  /** Gateway listen address. Default 127.0.0.1 (a container sets 0.0.0.0); also the worker's metrics address. */
  httpHost: string;
  /** Port of the standalone worker's /metrics and /healthz (`ofp worker`). Default 9464. */
  metricsPort: number;
  /** Embedded PostgreSQL port. Default 5433. */
  pgPort: number;
  /** Embedded Temporal frontend port. Default 7233; the Web UI listens on `OFP_TEMPORAL_UI_PORT` (default 8233). */
  temporalPort: number;
  temporalUiPort: number;
  /** `role:token` pairs; undefined means demo tokens are generated and printed. */
  tokens: string | undefined;
  /** Whether GraphQL introspection is enabled. Default true. */
  introspection: boolean;
  /** Reader requests the gateway answers at once; the excess gets a retryable UNAVAILABLE. Default 256. */
  maxInflight: number;
  /** Whether the gateway answers the GraphQL queries it can answer exactly without Apollo's pipeline. Default true. */
  graphqlFastPath: boolean;
  /** Read statements the gateway runs at once; requests arriving meanwhile share the next one. Default 2. */
  readConcurrency: number;
}

export const CONFIG_VARIABLES = [
  'DATABASE_URL',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'OFP_TASK_QUEUE',
  'OFP_ID_PREFIX',
  'OFP_BATCH_SIZE',
  'OFP_BATCHES_PER_ACTIVITY',
  'OFP_DATA_DIR',
  'OFP_BUS_ROOT',
  'OFP_POLICY',
  'OFP_HTTP_PORT',
  'OFP_HTTP_HOST',
  'OFP_METRICS_PORT',
  'OFP_PG_PORT',
  'OFP_TEMPORAL_PORT',
  'OFP_TEMPORAL_UI_PORT',
  'OFP_TOKENS',
  'OFP_INTROSPECTION',
  'OFP_GRAPHQL_FAST_PATH',
  'OFP_MAX_INFLIGHT',
  'OFP_READ_CONCURRENCY',
  'OFP_LOG_LEVEL',
  'OFP_LOG_PRETTY',
] as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError(`${name}=${raw} is not a TCP port (0..65535)`);
  return n;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name}=${raw} is not a positive integer`);
  return n;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(`${name}=${raw} is not a flag (1, true, 0 or false)`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): OfpConfig {
  const dataDir = path.resolve(env.OFP_DATA_DIR || '.data');
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.OFP_TASK_QUEUE || 'ofp-projector',
    idPrefix: env.OFP_ID_PREFIX || 'ofp',
    batchSize: positiveInt(env, 'OFP_BATCH_SIZE', 2000),
    batchesPerActivity: positiveInt(env, 'OFP_BATCHES_PER_ACTIVITY', 16),
    dataDir,
    busRoot: path.resolve(env.OFP_BUS_ROOT || path.join(dataDir, 'bus')),
    policyPath: path.resolve(env.OFP_POLICY || 'config/features.yaml'),
    httpPort: port(env, 'OFP_HTTP_PORT', 4000),
    httpHost: env.OFP_HTTP_HOST || '127.0.0.1',
    metricsPort: port(env, 'OFP_METRICS_PORT', 9464),
    pgPort: port(env, 'OFP_PG_PORT', 5433),
    temporalPort: port(env, 'OFP_TEMPORAL_PORT', 7233),
    temporalUiPort: port(env, 'OFP_TEMPORAL_UI_PORT', 8233),
    tokens: env.OFP_TOKENS || undefined,
    introspection: env.OFP_INTROSPECTION !== 'false',
    graphqlFastPath: flag(env, 'OFP_GRAPHQL_FAST_PATH', true),
    maxInflight: positiveInt(env, 'OFP_MAX_INFLIGHT', 256),
    readConcurrency: positiveInt(env, 'OFP_READ_CONCURRENCY', 2),
  };
}
