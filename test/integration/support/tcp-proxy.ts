/**
 * A real TCP proxy (node:net) to put between a process and a server it depends on, so a test can take the server
 * "away" and bring it back without stopping it (the server may be shared with other test files).
 *
 * - `cut()`: a hard outage, as when the server is stopped: every proxied connection is reset on the client side
 *   (ECONNRESET) and closed on the server side, and new connections are refused (the listener is closed, the client
 *   sees ECONNREFUSED; `restore()` listens again on the same port).
 * - `cutSilently()`: a network partition, then a server that no longer knows the old connections (as after a host
 *   reboot). Server sides are closed at once; client sides stay open but nothing reaches them and what they send is
 *   dropped, so the client cannot tell. After `restore()`, an old connection is reset (RST) as soon as data arrives on
 *   it (at once if the client sent something during the cut), as a host answers a segment on a connection it does not
 *   know. New connections during a silent cut are accepted and then hang in the same way.
 * - `restore()`: new connections are proxied to the server again (on the same port).
 */
import net from 'node:net';

export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  proxiedUrl(url: string): string;
  /** Client connections currently open on the proxy (proxied or held by a silent cut). */
  openConnections(): number;
  /** Data chunks passed from clients to the server since start (to see that a client is talking). */
  readonly chunksToServer: number;
  /** Client connections left over from a silent cut that were reset after `restore()`. */
  readonly staleResets: number;
  cut(): Promise<void>;
  cutSilently(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

type Mode = 'open' | 'refusing' | 'silent';

interface Pair {
  client: net.Socket;
  server: net.Socket | null;
  /** Set when a silent cut orphaned the client side: the server side is gone. */
  orphaned: boolean;
  /** Bytes the client sent while orphaned (dropped). */
  sentWhileOrphaned: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let mode: Mode = 'open';
  let staleResets = 0;
  let chunksToServer = 0;
  let port = 0;

  /** Resets a client-side socket (the client sees ECONNRESET), or just destroys it once it has begun to close. */
  const reset = (s: net.Socket) => {
    if (s.destroyed) return;
    // resetAndDestroy() after end() has started a graceful shutdown leaves the native handle referenced, and the
    // process then spins forever in its exit cleanup (seen on Node 20): destroy() in that case.
    if (s.writableEnded) s.destroy();
    else s.resetAndDestroy();
  };
  /** Server-side sockets are only ever destroyed: the server just sees the connection go. */
  const drop = (s: net.Socket | null) => {
    if (s && !s.destroyed) s.destroy();
  };

  const onConnection = (client: net.Socket) => {
    const pair: Pair = { client, server: null, orphaned: false, sentWhileOrphaned: false };
    pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => {
      pairs.delete(pair);
      drop(pair.server);
    });
    if (mode === 'silent') {
      // Accepted during a silent cut (a hard cut accepts nothing): it hangs like the others and is reset once the server is back.
      pair.orphaned = true;
      client.on('data', () => onOrphanData(pair));
      return;
    }
    const server = net.connect(target.port, target.host);
    pair.server = server;
    server.setNoDelay(true);
    client.setNoDelay(true);
    server.on('error', () => undefined);
    // The server closing a connection (a terminated backend, the answer to Terminate) is passed on as a close.
    server.on('end', () => {
      if (!pair.orphaned) client.end();
    });
    server.on('close', (hadError) => {
      if (hadError && !pair.orphaned) reset(client);
    });
    client.on('end', () => server.end());
    client.on('data', (chunk: Buffer) => {
      if (pair.orphaned) onOrphanData(pair);
      else {
        chunksToServer++;
        if (!server.write(chunk)) client.pause();
      }
    });
    server.on('drain', () => client.resume());
    server.on('data', (chunk: Buffer) => {
      if (pair.orphaned) return;
      if (!client.write(chunk)) server.pause();
    });
    client.on('drain', () => server.resume());
  };

  const resetStale = (pair: Pair) => {
    if (pair.client.destroyed) return;
    staleResets++;
    reset(pair.client);
  };
  const onOrphanData = (pair: Pair) => {
    if (mode === 'silent') pair.sentWhileOrphaned = true;
    else resetStale(pair);
  };

  const listener = net.createServer(onConnection);
  listener.on('error', () => undefined);

  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      listener.once('error', onError);
      listener.listen(p, '127.0.0.1', () => {
        listener.removeListener('error', onError);
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listener.listening) return resolve();
      listener.close(() => resolve());
    });

  await listen(0);
  port = (listener.address() as net.AddressInfo).port;

  return {
    port,
    get chunksToServer() {
      return chunksToServer;
    },
    get staleResets() {
      return staleResets;
    },
    proxiedUrl(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    openConnections: () => pairs.size,
    async cut() {
      if (mode === 'refusing') return;
      mode = 'refusing';
      await Promise.all([
        stopListening(),
        ...[...pairs].map(async (p) => {
          drop(p.server);
          reset(p.client);
        }),
      ]);
    },
    async cutSilently() {
      if (mode !== 'open') throw new Error('cutSilently: the proxy is already cut');
      mode = 'silent';
      for (const p of pairs) {
        p.orphaned = true;
        p.server?.destroy();
        p.server = null;
      }
    },
    async restore() {
      if (mode === 'open') return;
      const was = mode;
      mode = 'open';
      if (was === 'refusing') await listen(port);
      for (const p of pairs) if (p.orphaned && p.sentWhileOrphaned) resetStale(p);
    },
    async close() {
      mode = 'refusing';
      for (const p of pairs) {
        drop(p.server);
        drop(p.client);
      }
      await stopListening();
    },
  };
}
