/**
 * The serving bench's load generator: response framing, and what it counts against a server that answers, one that
 * answers wrongly, and one that is not there.
 */
import http from 'node:http';
import net from 'node:net';
import { openLoopLoad, postRequest, takeResponse, type LoadOptions } from '../../bench/load-generator';

describe('takeResponse', () => {
  const ok = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx: y\r\n\r\nhello');

  it('frames a response by Content-Length, whatever the split across chunks', () => {
    for (let cut = 0; cut < ok.length; cut++) expect(takeResponse(ok.subarray(0, cut))).toBeNull();
    const r = takeResponse(ok)!;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('hello');
    expect(r.used).toBe(ok.length);
  });

  it('frames a chunked response, only once its last chunk is in', () => {
    const chunked = Buffer.from(
      'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
    );
    for (let cut = 0; cut < chunked.length; cut++) expect(takeResponse(chunked.subarray(0, cut))).toBeNull();
    const r = takeResponse(chunked)!;
    expect(r.status).toBe(503);
    expect(r.body.toString()).toBe('abcde');
    expect(r.used).toBe(chunked.length);
  });

  it('refuses a response it cannot frame', () => {
    expect(() => takeResponse(Buffer.from('HTTP/1.1 204 No Content\r\nx: y\r\n\r\n'))).toThrow(/framing/);
  });
});

describe('openLoopLoad', () => {
  const request = postRequest('/graphql', { 'content-type': 'application/json' }, '{"q":1}');

  /** Listens on a free loopback port; returns it. */
  async function listen(server: net.Server): Promise<number> {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as net.AddressInfo).port;
  }

  async function withServer<T>(handler: http.RequestListener, fn: (port: number) => Promise<T>): Promise<T> {
    const server = http.createServer(handler);
    const port = await listen(server);
    try {
      return await fn(port);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }

  /** A run of `request` against `port`: 2 s to answer after the last send, success is HTTP 200, unless overridden. */
  function load(port: number, options: Pick<LoadOptions, 'rps' | 'seconds'> & Partial<LoadOptions>) {
    return openLoopLoad({ port, requests: [request], timeoutMs: 2000, accept: (s) => s === 200, ...options });
  }

  it('sends every request once, at the rate, and times each one that succeeds', async () => {
    let seen = 0;
    const r = await withServer(
      (req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          seen++;
          res.end(body === '{"q":1}' ? 'FeatureSnapshot' : 'bad');
        });
      },
      (port) =>
        load(port, {
          rps: 200,
          seconds: 0.5,
          accept: (status, body) => status === 200 && body.toString() === 'FeatureSnapshot',
        }),
    );
    expect(r.sent).toBe(100);
    expect(seen).toBe(100);
    expect(r.failed).toBe(0);
    expect(r.lat).toHaveLength(100);
    expect(r.lat.every((l, i) => l >= 0 && (i === 0 || l >= r.lat[i - 1]))).toBe(true);
  });

  it('counts rejected answers as failures, not as latencies', async () => {
    const r = await withServer(
      (_req, res) => {
        res.statusCode = 503;
        res.end('busy');
      },
      (port) => load(port, { rps: 100, seconds: 0.2 }),
    );
    expect(r.sent).toBe(20);
    expect(r.failed).toBe(20);
    expect(r.lat).toHaveLength(0);
  });

  it('fails every request against a port nobody listens on, without hanging', async () => {
    const server = net.createServer();
    const port = await listen(server);
    await new Promise((r) => server.close(r));
    const r = await load(port, { rps: 100, seconds: 0.2 });
    expect(r.sent).toBe(20);
    expect(r.failed).toBe(20);
  });

  it('fails requests a server never answers once the timeout passes', async () => {
    const r = await withServer(
      () => undefined, // never responds
      (port) => load(port, { rps: 50, seconds: 0.1, timeoutMs: 200 }),
    );
    expect(r.sent).toBe(5);
    expect(r.failed).toBe(5);
  });

  it('counts latency from when a request was due, so queueing behind a slow server shows in full', async () => {
    // One socket, a server taking 50 ms per answer, 20 requests due over 0.2 s: the last one waits for the 19
    // before it, about 1 s after it was due. Counted from when it was written, every latency would be about 50 ms.
    const started = performance.now();
    const r = await withServer(
      (_req, res) => setTimeout(() => res.end('ok'), 50),
      (port) => load(port, { rps: 100, seconds: 0.2, maxSockets: 1, timeoutMs: 5000 }),
    );
    expect(r.failed).toBe(0);
    expect(r.lat).toHaveLength(20);
    expect(r.lat[r.lat.length - 1]).toBeGreaterThan(500);
    expect(performance.now() - started).toBeGreaterThan(900);
  });

  it('leaves no socket open once it returns, even with requests still queued at the end', async () => {
    let open = 0;
    const server = net.createServer((socket) => {
      socket.resume(); // read, so that the client's close is seen
      open++;
      socket.on('close', () => open--);
    }); // accepts and never answers
    const port = await listen(server);
    try {
      const r = await load(port, { rps: 50, seconds: 0.1, maxSockets: 1, timeoutMs: 100 });
      expect(r.failed).toBe(5);
      await new Promise((res) => setTimeout(res, 300));
      expect(open).toBe(0);
    } finally {
      await new Promise((res) => server.close(res));
    }
  });
});
