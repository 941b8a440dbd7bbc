/** TCP port helpers for the embedded services: fail early with the variable to change, wait for listeners. */
import fs from 'node:fs';
import net from 'node:net';
import { errorCode, PortInUseError, ServiceError, WaitTimeoutError } from './errors';

/** Host the embedded services bind to: loopback only, they are not meant to be reachable from elsewhere. */
export const LOOPBACK = '127.0.0.1';

/**
 * Throws `PortInUseError` naming `variableName` if `host:port` cannot be listened on.
 *
 * We check by listening ourselves (and closing at once) because the services' own bind failures arrive as lines in
 * their logs, long after start, and without the name of the variable that would fix them. Port 0 ("any free port")
 * is always free.
 *
 * @param host defaults to 127.0.0.1, where the embedded services listen.
 */
export async function assertPortFree(
  port: number,
  variableName: string,
  host: string = LOOPBACK,
): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err) => {
      const code = errorCode(err);
      if (code === 'EADDRINUSE') reject(new PortInUseError(port, variableName, { cause: err }));
      else
        reject(
          new ServiceError(
            `cannot listen on ${host}:${port} (${code ?? err.message}); set ${variableName} to another port`,
            {
              cause: err,
            },
          ),
        );
    });
    // exclusive: do not share a handle with cluster workers; we want the kernel's answer.
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** Where Linux says the source ports of outgoing connections come from; elsewhere its default, 32768–60999. */
function ephemeralPortRange(): { low: number; high: number } {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    if (Number.isSafeInteger(Number(low)) && Number.isSafeInteger(Number(high)))
      return { low: Number(low), high: Number(high) };
  } catch {
    // not Linux, or /proc not mounted
  }
  return { low: 32768, high: 60999 };
}

/** Ports `findFreePort` draws from: the 12,000 below the ephemeral range (20768–32767 by default). */
export function freePortRange(): { low: number; high: number } {
  const ephemeral = ephemeralPortRange();
  return { low: Math.max(1024, ephemeral.low - 12_000), high: ephemeral.low - 1 };
}

/**
 * A port that was free a moment ago (for tests and `port: 0`-style configuration). Another process may take it.
 *
 * Drawn at random from below the kernel's ephemeral range. A port from inside that range (what listening on port 0
 * returns) can become the source port of any outgoing connection between this check and the service's own bind,
 * and a starting Temporal dev server opens many connections to itself before its UI listens: a test then failed
 * with its UI port "in use". Falls back to the kernel's choice when the range below is too small to draw from.
 */
export async function findFreePort(host: string = LOOPBACK): Promise<number> {
  const range = freePortRange();
  if (range.high - range.low >= 1000) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = range.low + Math.floor(Math.random() * (range.high - range.low + 1));
      try {
        await assertPortFree(port, 'port', host);
        return port;
      } catch (err) {
        if (!(err instanceof PortInUseError)) throw err;
      }
    }
  }
  return anyFreePort(host);
}

/** The port the kernel picks for a listener on port 0 (inside the ephemeral range). */
function anyFreePort(host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on `host:port` right now. */
export function isTcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves once `host:port` accepts a TCP connection; throws `WaitTimeoutError` after `timeoutMs`.
 *
 * @param timeoutMs total time to wait; polled every 100 ms.
 */
export async function waitForTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await isTcpOpen(host, port, Math.max(100, Math.min(1000, deadline - Date.now())))) return;
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(
        `nothing accepted connections on ${host}:${port} within ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
