/**
 * An open-loop HTTP/1.1 load generator for the serving bench, lean enough to share two cores with the gateway and
 * PostgreSQL: requests are prebuilt bytes written on keep-alive sockets (one request at a time per socket, no
 * pipelining), responses are framed by Content-Length or chunked encoding, and nothing else is parsed. Node's http
 * client cost 430–790 µs of CPU per request on this machine; this costs a fraction of that.
 *
 * Latency runs from the instant a request was due by the schedule, not from when the generator got round to it or a
 * socket was free: a stalled gateway, or a stalled generator, shows in the figures (no coordinated omission).
 */
import net from 'node:net';

export interface LoadOptions {
  port: number;
  /** Complete HTTP requests (request line, headers, body), sent in turn. */
  requests: Buffer[];
  rps: number;
  seconds: number;
  /** Most sockets to open. Default 64. */
  maxSockets?: number;
  /** Once every request is sent, those still unanswered after this long count as failed. Default 30 000 ms. */
  timeoutMs?: number;
  /** Decides whether a response counts as a success. */
  accept: (status: number, body: Buffer) => boolean;
}

export interface LoadResult {
  /** Latencies of successful requests in ms, sorted. */
  lat: number[];
  /** Requests that failed: refused, reset, timed out, or answered with a response `accept` rejects. */
  failed: number;
  sent: number;
}

/** Builds the bytes of one POST request. */
export function postRequest(path: string, headers: Record<string, string>, body: string): Buffer {
  const b = Buffer.from(body);
  const head = [`POST ${path} HTTP/1.1`, 'host: 127.0.0.1', `content-length: ${b.length}`]
    .concat(Object.entries(headers).map(([k, v]) => `${k}: ${v}`))
    .join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`), b]);
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Splits one response off the front of `buf`: its status, body and length in bytes; null when incomplete. Throws on a
 * response it cannot frame (neither Content-Length nor chunked).
 */
export function takeResponse(buf: Buffer): { status: number; body: Buffer; used: number } | null {
  const end = buf.indexOf(HEADER_END);
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const status = Number(head.slice(9, 12));
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) {
    const n = Number(length[1]);
    if (buf.length < end + 4 + n) return null;
    return { status, body: buf.subarray(end + 4, end + 4 + n), used: end + 4 + n };
  }
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head))
    throw new Error(`response without framing: ${head.split('\r\n')[0]}`);
  const parts: Buffer[] = [];
  let at = end + 4;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (buf.length < eol + 2 + size + 2) return null;
    if (size === 0) return { status, body: Buffer.concat(parts), used: eol + 4 };
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

interface Pending {
  due: number;
  req: Buffer;
  settled: boolean;
}

interface Conn {
  socket: net.Socket;
  buf: Buffer;
  busy: Pending | null;
}

export async function openLoopLoad(o: LoadOptions): Promise<LoadResult> {
  const maxSockets = o.maxSockets ?? 64;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const lat: number[] = [];
  let failed = 0;
  let sent = 0;
  let next = 0;
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  const waiting: Pending[] = [];
  const unsettled = new Set<Pending>();
  let connectFailures = 0;
  let finished = false;

  const settle = (p: Pending, ok: boolean): void => {
    if (p.settled) return;
    p.settled = true;
    unsettled.delete(p);
    if (ok) lat.push(performance.now() - p.due);
    else failed++;
  };

  const dispatch = (c: Conn): void => {
    let p = waiting.shift();
    while (p && p.settled) p = waiting.shift(); // timed out while waiting for a socket
    if (!p) {
      idle.push(c);
      return;
    }
    c.busy = p;
    c.socket.write(p.req);
  };

  const open = (): void => {
    const c: Conn = { socket: net.connect(o.port, '127.0.0.1'), buf: Buffer.alloc(0), busy: null };
    all.add(c);
    c.socket.setNoDelay(true);
    let connected = false;
    c.socket.on('connect', () => {
      connected = true;
      connectFailures = 0;
      if (finished) c.socket.destroy();
      else dispatch(c);
    });
    c.socket.on('data', (chunk) => {
      c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
      let r: ReturnType<typeof takeResponse>;
      try {
        r = takeResponse(c.buf);
      } catch {
        c.socket.destroy(); // unframeable: fails the request in 'close'
        return;
      }
      if (!r) return;
      // One request at a time per socket: bytes beyond its response, or with none outstanding, break the pairing.
      if (!c.busy || r.used !== c.buf.length) {
        c.socket.destroy();
        return;
      }
      c.buf = Buffer.alloc(0);
      const p = c.busy;
      c.busy = null;
      settle(p, o.accept(r.status, r.body));
      dispatch(c);
    });
    let closed = false;
    const lost = (): void => {
      if (closed) return; // 'error' is followed by 'close'
      closed = true;
      all.delete(c);
      const i = idle.indexOf(c);
      if (i >= 0) idle.splice(i, 1);
      if (c.busy) settle(c.busy, false);
      c.busy = null;
      if (finished) return;
      if (!connected) connectFailures++;
      if (connectFailures >= 3) {
        // A gateway that refuses connections: no reconnect loop. With no socket left, nothing will ever serve
        // the waiting requests, so they fail; otherwise the live sockets drain them.
        if ([...all].every((x) => x.socket.connecting)) for (const p of waiting.splice(0)) settle(p, false);
        return;
      }
      if (waiting.length > 0 && all.size < maxSockets) open();
    };
    c.socket.on('error', lost);
    c.socket.on('close', lost);
  };

  const total = Math.round(o.rps * o.seconds);
  const started = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * o.rps) + 1);
    while (sent < due) {
      const p: Pending = {
        due: started + (sent * 1000) / o.rps,
        req: o.requests[next++ % o.requests.length],
        settled: false,
      };
      waiting.push(p);
      unsettled.add(p);
      sent++;
      const c = idle.pop();
      if (c) dispatch(c);
      else if (all.size < maxSockets && connectFailures < 3) open();
      else if (all.size === 0) settle(p, false); // refused, and no socket left to serve it
    }
    // Sleep until the next request is due (at least 1 ms): pacing without spinning a core away from the gateway.
    const nextDue = started + (sent * 1000) / o.rps;
    await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(nextDue - performance.now()))));
  }
  const deadline = performance.now() + timeoutMs;
  while (unsettled.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  finished = true;
  waiting.length = 0;
  for (const p of [...unsettled]) settle(p, false);
  for (const c of all) c.socket.destroy();
  lat.sort((a, b) => a - b);
  return { lat, failed, sent };
}
