/**
 * Embedded Temporal: the CLI's dev server (`temporal server start-dev`, SQLite file, Web UI) when TEMPORAL_ADDRESS is
 * not set, plus the reachability check used when it is.
 *
 * Layout under `<dataDir>/temporal/`: `temporal.db` (workflow state, kept across runs), `server.log` (the server's
 * stdout and stderr), `server.pid` (see process.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { errorCode, PortInUseError, ServiceStartError, TemporalUnavailableError } from './errors';
import { assertPortFree, isTcpOpen, LOOPBACK, sleep } from './ports';
import { reclaimOrphan, spawnManaged, tailFile, type ServiceLogger } from './process';
import { ensureTemporalCli } from './temporal-cli';

export type SearchAttributeType = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

/** The search attributes OFP's workflows set (SPEC 9), shown and filterable in the Temporal UI. */
export const OFP_SEARCH_ATTRIBUTES: Readonly<Record<string, SearchAttributeType>> = {
  OfpStream: 'Keyword',
  OfpPartition: 'Int',
  OfpState: 'Keyword',
  OfpNextOffset: 'Int',
};

/** `temporal.api.enums.v1.IndexedValueType` numbers (from @temporalio/proto, which we do not depend on directly). */
const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};

export interface TemporalDevServerOptions {
  /** OFP data directory (`OFP_DATA_DIR`); the server keeps its state in `<dataDir>/temporal/temporal.db`. */
  dataDir: string;
  /** Frontend gRPC port on 127.0.0.1 (`OFP_TEMPORAL_PORT`, default 7233). Must be a real port (no 0). */
  port: number;
  /** Web UI port (`OFP_TEMPORAL_UI_PORT`, default 8233); null runs the server without the UI. */
  uiPort: number | null;
  /** Namespace to create at launch (`TEMPORAL_NAMESPACE`, default `default`). */
  namespace: string;
  log: ServiceLogger;
  /**
   * Extra dynamic config, passed as `--dynamic-config-value key=<JSON value>`, e.g.
   * `{ 'limit.historyCount.suggestContinueAsNew': 200 }` to exercise continue-as-new in tests. Default none.
   */
  dynamicConfig?: Readonly<Record<string, string | number | boolean>>;
  /** Search attributes to register. Default `OFP_SEARCH_ATTRIBUTES`. */
  searchAttributes?: Readonly<Record<string, SearchAttributeType>>;
  /** How long to wait for the frontend to answer and the attributes to exist. Default 30000 ms. */
  readyTimeoutMs?: number;
  /** The `temporal` binary. Default: `ensureTemporalCli` (which may build it, taking minutes the first time). */
  binary?: string;
}

export interface TemporalDevServer {
  /** `127.0.0.1:<port>`, for TEMPORAL_ADDRESS. */
  address: string;
  namespace: string;
  /** `http://127.0.0.1:<uiPort>`, unless the UI is off. */
  uiUrl?: string;
  pid: number;
  /** SIGTERM, SIGKILL after 15 s. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the Temporal dev server and waits until its namespace and search attributes are usable. */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const { log, port, uiPort, namespace } = opts;
  const dir = path.join(path.resolve(opts.dataDir), 'temporal');
  const dbFile = path.join(dir, 'temporal.db');
  const logFile = path.join(dir, 'server.log');
  const pidFile = path.join(dir, 'server.pid');
  const searchAttributes = opts.searchAttributes ?? OFP_SEARCH_ATTRIBUTES;
  const timeoutMs = opts.readyTimeoutMs ?? 30000;

  const binary = opts.binary ?? (await ensureTemporalCli({ log }));
  fs.mkdirSync(dir, { recursive: true });
  await reclaimOrphan({
    name: 'Temporal',
    pidFile,
    dataDir: opts.dataDir,
    stopSignal: 'SIGTERM',
    matches: (cmd) => cmd.includes('start-dev') && cmd.includes(dbFile),
    log,
  });
  await assertPortFree(port, 'OFP_TEMPORAL_PORT');
  if (uiPort !== null) await assertPortFree(uiPort, 'OFP_TEMPORAL_UI_PORT');

  const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', LOOPBACK, '--port', String(port)];
  args.push(...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort)]));
  args.push('--namespace', namespace);
  for (const [name, type] of Object.entries(searchAttributes))
    args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  args.push('--log-level', 'warn');

  // The CLI reads TEMPORAL_* (address, namespace, TLS, profiles) as defaults for its flags; ours are explicit.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  fs.appendFileSync(logFile, `\n--- ofp: ${binary} ${args.join(' ')} at ${new Date().toISOString()}\n`);
  const started = Date.now();
  const server = await spawnManaged({
    name: 'temporal',
    command: binary,
    args,
    logFile,
    pidFile,
    env,
    cwd: dir,
    stopSignal: 'SIGTERM',
  });

  const address = `${LOOPBACK}:${port}`;
  try {
    const connection = await connectWhenUp({
      address,
      timeoutMs,
      isRunning: server.isRunning,
      onExit: () => startFailure(logFile, port, uiPort),
      logFile,
    });
    try {
      await waitForNamespace(connection, namespace, started + timeoutMs, logFile);
      await ensureSearchAttributes(connection, namespace, searchAttributes, log, {
        // A reused database keeps registered attributes; a fresh one gets them from --search-attribute shortly
        // after the frontend is up. Register ourselves only if they do not show up.
        waitMs: Math.max(2000, Math.min(5000, started + timeoutMs - Date.now())),
      });
    } finally {
      await connection.close();
    }
  } catch (err) {
    await server.stop(5000);
    throw err;
  }
  const uiUrl = uiPort === null ? undefined : `http://${LOOPBACK}:${uiPort}`;
  log.info({ address, uiUrl, namespace, ms: Date.now() - started }, 'embedded Temporal dev server ready');
  return {
    address,
    namespace,
    uiUrl,
    pid: server.pid,
    stop: async () => {
      await server.stop(15000);
      log.debug({ address }, 'embedded Temporal dev server stopped');
    },
  };
}

/**
 * Throws `TemporalUnavailableError` (one line) unless a Temporal frontend answers at `address` and has `namespace`.
 * @param timeoutMs connection timeout, default 5000 ms.
 */
export async function checkTemporalReachable(
  address: string,
  namespace: string,
  timeoutMs = 5000,
): Promise<void> {
  // A plain TCP probe first: a refused connection is then reported at once instead of after the gRPC timeout.
  const { host, port } = splitAddress(address);
  if (!(await isTcpOpen(host, port, timeoutMs))) throw new TemporalUnavailableError(address);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  } catch (err) {
    throw new TemporalUnavailableError(address, undefined, { cause: err });
  }
  try {
    await connection.withDeadline(Date.now() + timeoutMs, () =>
      connection.workflowService.describeNamespace({ namespace }),
    );
  } catch (err) {
    if (grpcCode(err) === GRPC_NOT_FOUND) {
      throw new TemporalUnavailableError(
        address,
        `Temporal at ${address} has no namespace ${namespace}; create it (temporal operator namespace create ${namespace}) or check TEMPORAL_NAMESPACE`,
        { cause: err },
      );
    }
    throw new TemporalUnavailableError(address, undefined, { cause: err });
  } finally {
    await connection.close();
  }
}

/**
 * Registers whichever of `attributes` the namespace lacks (after waiting `waitMs` for them to appear on their own).
 * Also for production servers, where nothing else registers OFP's attributes: call it from the worker at start.
 * Throws `ServiceStartError` if an attribute exists with another type.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  attributes: Readonly<Record<string, SearchAttributeType>> = OFP_SEARCH_ATTRIBUTES,
  log?: ServiceLogger,
  opts: { waitMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  let missing: string[];
  for (;;) {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const existing = customAttributes ?? {};
    for (const [name, type] of Object.entries(attributes)) {
      const have = existing[name];
      if (have !== undefined && have !== null && Number(have) !== INDEXED_VALUE_TYPE[type]) {
        throw new ServiceStartError(
          'temporal',
          `search attribute ${name} exists in namespace ${namespace} with another type than ${type}; it cannot be changed in place`,
        );
      }
    }
    missing = Object.keys(attributes).filter((name) => existing[name] === undefined);
    if (missing.length === 0) return;
    if (Date.now() >= deadline) break;
    await sleep(200);
  }
  log?.info({ namespace, missing }, 'registering Temporal search attributes');
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((name) => [name, INDEXED_VALUE_TYPE[attributes[name]]]),
      ),
    });
  } catch (err) {
    // ALREADY_EXISTS: registered concurrently (by the server's own flags or another worker).
    if (grpcCode(err) !== GRPC_ALREADY_EXISTS) throw err;
  }
}

/** `host:port`, `[v6]:port` or `host` (port 7233, Temporal's default). */
function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(address) ?? /^([^:]+)(?::(\d+))?$/.exec(address);
  if (!m) throw new TemporalUnavailableError(address, `TEMPORAL_ADDRESS=${address} is not host:port`);
  return { host: m[1], port: m[2] ? Number(m[2]) : 7233 };
}

const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;

function grpcCode(err: unknown): number | undefined {
  const code = errorCode(err);
  return code === undefined ? undefined : Number(code);
}

async function connectWhenUp(o: {
  address: string;
  timeoutMs: number;
  isRunning: () => boolean;
  onExit: () => Error;
  logFile: string;
}): Promise<Connection> {
  const deadline = Date.now() + o.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!o.isRunning()) throw o.onExit();
    try {
      const connection = await Connection.connect({ address: o.address, connectTimeout: 1000 });
      try {
        await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
        return connection;
      } catch (err) {
        await connection.close();
        throw err;
      }
    } catch (err) {
      lastError = err;
    }
    await sleep(200);
  }
  if (!o.isRunning()) throw o.onExit();
  throw new ServiceStartError(
    'temporal',
    `the Temporal dev server did not answer on ${o.address} within ${Math.round(o.timeoutMs / 1000)} s`,
    { cause: lastError, logFile: o.logFile },
  );
}

async function waitForNamespace(
  connection: Connection,
  namespace: string,
  deadline: number,
  logFile: string,
) {
  for (;;) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      if (grpcCode(err) !== GRPC_NOT_FOUND || Date.now() >= deadline) {
        throw new ServiceStartError('temporal', `namespace ${namespace} is not available on the dev server`, {
          cause: err,
          logFile,
        });
      }
    }
    await sleep(200);
  }
}

/** The most telling error for a dev server that exited while starting, from its log. */
function startFailure(logFile: string, port: number, uiPort: number | null): Error {
  const tail = tailFile(logFile, 40);
  const inUse = /:(\d+): bind: address already in use/.exec(tail);
  if (inUse) {
    const taken = Number(inUse[1]);
    if (taken === port) return new PortInUseError(port, 'OFP_TEMPORAL_PORT');
    if (taken === uiPort) return new PortInUseError(taken, 'OFP_TEMPORAL_UI_PORT');
  }
  const last = tail
    .split('\n')
    .reverse()
    .find((l) => /error|fatal|panic/i.test(l));
  return new ServiceStartError(
    'temporal',
    `the Temporal dev server exited while starting${last ? `: ${last.trim().slice(0, 300)}` : ''}`,
    {
      logFile,
    },
  );
}
