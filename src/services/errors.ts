/**
 * Errors raised while starting or reaching the services OFP depends on (PostgreSQL, Temporal).
 *
 * Each message is one human-readable line that says what is wrong and what to change, because the CLI prints
 * `err.message` alone unless `--verbose` (then it prints `cause` too). Messages never contain passwords.
 */

/** Base class: lets the CLI tell an expected, explained failure from a bug (which it prints with its stack). */
export class ServiceError extends Error {
  override name = 'ServiceError';
  /** The underlying error, if any (for `--verbose`). */
  declare readonly cause?: unknown;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** A service process could not be started, or exited while starting. */
export class ServiceStartError extends ServiceError {
  override name = 'ServiceStartError';
  constructor(
    /** Which service: `postgres`, `temporal`, ... */
    readonly service: string,
    message: string,
    options?: { cause?: unknown; /** Where the service's own output went. */ logFile?: string },
  ) {
    super(options?.logFile ? `${message} (see ${options.logFile})` : message, options);
    this.logFile = options?.logFile;
  }
  readonly logFile?: string;
}

/** A TCP port we need to listen on is taken. */
export class PortInUseError extends ServiceError {
  override name = 'PortInUseError';
  constructor(
    readonly port: number,
    /** The environment variable that chooses this port, e.g. `OFP_PG_PORT`. */
    readonly variable: string,
    options?: { cause?: unknown },
  ) {
    super(`port ${port} is in use; set ${variable} to another port`, options);
  }
}

/** The data directory (or a directory under it) cannot be created or written. */
export class DataDirNotWritableError extends ServiceError {
  override name = 'DataDirNotWritableError';
  constructor(
    readonly dir: string,
    /** Short reason, e.g. `EACCES` or a sentence; the default hint names OFP_DATA_DIR. */
    reason: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(
      `data directory ${dir} is not writable (${reason}); ${options?.hint ?? 'set OFP_DATA_DIR to a writable directory'}`,
      options,
    );
  }
}

/** A Temporal frontend given by TEMPORAL_ADDRESS (or started by us) does not answer. */
export class TemporalUnavailableError extends ServiceError {
  override name = 'TemporalUnavailableError';
  constructor(
    readonly address: string,
    message = `cannot reach Temporal at ${address}; check TEMPORAL_ADDRESS`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The Temporal CLI binary (which runs the embedded dev server) is not available and cannot be obtained. */
export class TemporalCliUnavailableError extends ServiceError {
  override name = 'TemporalCliUnavailableError';
}

/** PostgreSQL given by DATABASE_URL does not accept our connection. */
export class DatabaseUnreachableError extends ServiceError {
  override name = 'DatabaseUnreachableError';
  constructor(
    /** `host:port`, never the full URL (it may carry a password). */
    readonly hostPort: string,
    message = `cannot reach PostgreSQL at ${hostPort}; check DATABASE_URL`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Waiting for something to come up took too long. */
export class WaitTimeoutError extends ServiceError {
  override name = 'WaitTimeoutError';
}

/** Error code (`ECONNREFUSED`, `28P01`, ...) of a Node or driver error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') return String(code);
  }
  return undefined;
}
