/**
 * The services a command needs, from the configuration (SPEC 10): the given DATABASE_URL / TEMPORAL_ADDRESS if set
 * (checked, so a wrong value fails at once with one line), otherwise embedded ones under OFP_DATA_DIR.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OfpConfig } from '../config';
import { DataDirNotWritableError, errorCode } from './errors';
import { checkDatabaseReachable, startEmbeddedPostgres } from './embedded-postgres';
import type { ServiceLogger } from './process';
import { checkTemporalReachable, startTemporalDevServer } from './temporal-server';

export interface StartTemporalOptions {
  /** Extra dynamic config for an embedded dev server (ignored for TEMPORAL_ADDRESS). Default none. */
  dynamicConfig?: Readonly<Record<string, string | number | boolean>>;
  /** Whether the embedded dev server serves the Web UI on OFP_TEMPORAL_UI_PORT. Default true. */
  ui?: boolean;
  /** How long to wait for an embedded dev server. Default 30000 ms. */
  readyTimeoutMs?: number;
}

export interface StartServicesOptions extends StartTemporalOptions {
  /** Whether the command needs Temporal (`ofp db migrate` does not). Default true. */
  temporal?: boolean;
}

export interface RunningDatabase {
  databaseUrl: string;
  /** Whether we started it (and `stop()` will stop it). */
  embedded: boolean;
  stop(): Promise<void>;
}

export interface RunningTemporal {
  temporalAddress: string;
  temporalNamespace: string;
  /** Web UI of the embedded dev server. */
  temporalUiUrl?: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export interface RunningServices {
  databaseUrl: string;
  /** Undefined only when started with `{ temporal: false }`. */
  temporalAddress: string | undefined;
  temporalNamespace: string;
  temporalUiUrl?: string;
  embedded: { postgres: boolean; temporal: boolean };
  /** Stops what we started, in reverse start order. Idempotent. */
  stop(): Promise<void>;
}

/** Throws `DataDirNotWritableError` unless `dir` exists (creating it) and a file can be written in it. */
export function assertDataDirWritable(dir: string): void {
  const probe = path.join(dir, `.write-test-${process.pid}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (err) {
    throw new DataDirNotWritableError(dir, errorCode(err) ?? (err as Error).message, { cause: err });
  }
}

/** DATABASE_URL (checked) or the embedded PostgreSQL on OFP_PG_PORT. */
export async function startDatabase(config: OfpConfig, log: ServiceLogger): Promise<RunningDatabase> {
  if (config.databaseUrl) {
    await checkDatabaseReachable(config.databaseUrl);
    return { databaseUrl: config.databaseUrl, embedded: false, stop: async () => undefined };
  }
  assertDataDirWritable(config.dataDir);
  const pg = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.pgPort, log });
  return { databaseUrl: pg.url, embedded: true, stop: pg.stop };
}

/** TEMPORAL_ADDRESS (checked, including the namespace) or the embedded dev server on OFP_TEMPORAL_PORT. */
export async function startTemporal(
  config: OfpConfig,
  log: ServiceLogger,
  opts: StartTemporalOptions = {},
): Promise<RunningTemporal> {
  const namespace = config.temporalNamespace;
  if (config.temporalAddress) {
    await checkTemporalReachable(config.temporalAddress, namespace);
    return {
      temporalAddress: config.temporalAddress,
      temporalNamespace: namespace,
      embedded: false,
      stop: async () => undefined,
    };
  }
  assertDataDirWritable(config.dataDir);
  const server = await startTemporalDevServer({
    dataDir: config.dataDir,
    port: config.temporalPort,
    uiPort: opts.ui === false ? null : config.temporalUiPort,
    namespace,
    log,
    dynamicConfig: opts.dynamicConfig,
    readyTimeoutMs: opts.readyTimeoutMs,
  });
  return {
    temporalAddress: server.address,
    temporalNamespace: namespace,
    temporalUiUrl: server.uiUrl,
    embedded: true,
    stop: server.stop,
  };
}

/**
 * Starts (or checks) PostgreSQL and, unless `opts.temporal === false`, Temporal. If the second fails, the first is
 * stopped before the error is rethrown, so a failed start leaves nothing running.
 */
export async function startServices(
  config: OfpConfig,
  log: ServiceLogger,
  opts?: StartServicesOptions & { temporal?: true },
): Promise<RunningServices & { temporalAddress: string }>;
export async function startServices(
  config: OfpConfig,
  log: ServiceLogger,
  opts: StartServicesOptions,
): Promise<RunningServices>;
export async function startServices(
  config: OfpConfig,
  log: ServiceLogger,
  opts: StartServicesOptions = {},
): Promise<RunningServices> {
  const db = await startDatabase(config, log);
  let temporal: RunningTemporal | undefined;
  if (opts.temporal !== false) {
    try {
      temporal = await startTemporal(config, log, opts);
    } catch (err) {
      await db.stop().catch((stopErr: unknown) => log.warn({ err: stopErr }, 'stopping PostgreSQL failed'));
      throw err;
    }
  }
  let stopping: Promise<void> | undefined;
  return {
    databaseUrl: db.databaseUrl,
    temporalAddress: temporal?.temporalAddress,
    temporalNamespace: config.temporalNamespace,
    temporalUiUrl: temporal?.temporalUiUrl,
    embedded: { postgres: db.embedded, temporal: temporal?.embedded ?? false },
    stop() {
      stopping ??= (async () => {
        for (const service of [temporal, db]) {
          try {
            await service?.stop();
          } catch (err) {
            log.warn({ err }, 'stopping a service failed');
          }
        }
      })();
      return stopping;
    },
  };
}
