/**
 * An open-loop HTTP/1.1 load generator for the serving bench, lean enough to share two cores with the gateway and
 * PostgreSQL: requests are prebuilt bytes written on keep-alive sockets (one request at a time per socket, no
 * pipelining), responses are framed by Content-Length or chunked encoding, and nothing else is parsed. Node's http
 * client cost 430–790 µs of CPU per request here, taken from the process under test; this costs a small fraction.
 *
 * Latency runs from the instant a request was issued, not from when a socket was free, so a stalled gateway shows in
 * the figures instead of slowing the generator down (open loop: no coordinated omission).
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
  /** Decides whether a response counts as a success. */
  accept: (status: number, body: Buffer) => boolean;
}

export interface LoadResult {
  /** Latencies in ms, sorted. */
  lat: number[];
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

/** Splits one response off the front of `buf`: its status, body and length in bytes, or null when incomplete. */
function takeResponse(buf: Buffer): { status: number; body: Buffer; used: number } | null {
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
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) throw new Error(`unframed response: ${head}`);
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

interface Conn {
  socket: net.Socket;
  buf: Buffer;
  busy: { issued: number; done: (ok: boolean) => void } | null;
}

export async function openLoopLoad(o: LoadOptions): Promise<LoadResult> {
  const maxSockets = o.maxSockets ?? 64;
  const lat: number[] = [];
  let failed = 0;
  let sent = 0;
  let next = 0;
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  const waiting: { issued: number; req: Buffer }[] = [];
  let outstanding = 0;
  let allDone: () => void = () => undefined;
  const finished = new Promise<void>((r) => (allDone = r));
  let scheduling = true;

  const complete = (issued: number, ok: boolean): void => {
    lat.push(performance.now() - issued);
    if (!ok) failed++;
    outstanding--;
    if (!scheduling && outstanding === 0) allDone();
  };

  const dispatch = (c: Conn): void => {
    const w = waiting.shift();
    if (!w) {
      idle.push(c);
      return;
    }
    c.busy = { issued: w.issued, done: (ok) => complete(w.issued, ok) };
    c.socket.write(w.req);
  };

  const open = (): void => {
    const c: Conn = { socket: net.connect(o.port, '127.0.0.1'), buf: Buffer.alloc(0), busy: null };
    all.add(c);
    c.socket.setNoDelay(true);
    c.socket.on('connect', () => dispatch(c));
    c.socket.on('data', (chunk) => {
      c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
      const r = takeResponse(c.buf);
      if (!r || !c.busy) return;
      c.buf = c.buf.subarray(r.used);
      const b = c.busy;
      c.busy = null;
      b.done(o.accept(r.status, r.body));
      dispatch(c);
    });
    const lost = (): void => {
      all.delete(c);
      const i = idle.indexOf(c);
      if (i >= 0) idle.splice(i, 1);
      if (c.busy) {
        const b = c.busy;
        c.busy = null;
        b.done(false);
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
      waiting.push({ issued: performance.now(), req: o.requests[next++ % o.requests.length] });
      sent++;
      outstanding++;
      const c = idle.pop();
      if (c) dispatch(c);
      else if (all.size < maxSockets) open();
    }
    // Sleep until the next request is due (at least 1 ms): pacing without spinning a core away from the gateway.
    const nextDue = started + (sent * 1000) / o.rps;
    await new Promise((r) => setTimeout(r, Math.max(1, Math.floor(nextDue - performance.now()))));
  }
  scheduling = false;
  if (outstanding > 0) await finished;
  for (const c of all) c.socket.destroy();
  lat.sort((a, b) => a - b);
  return { lat, failed, sent };
}
