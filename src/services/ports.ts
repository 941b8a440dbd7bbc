/** TCP port helpers for the embedded services: fail early with the variable to change, wait for listeners. */
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

/** A port that was free a moment ago (for tests and `port: 0`-style configuration). Another process may take it. */
export async function findFreePort(host: string = LOOPBACK): Promise<number> {
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
