/**
 * A minimal HTTP listener for processes without the gateway (the standalone `ofp worker`): Prometheus metrics at
 * /metrics and liveness at /healthz, so the projector's counters, histograms and lag gauges can be scraped.
 */
import http from 'node:http';
import client from 'prom-client';
import { PortInUseError } from '../services/errors';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * @param port port to listen on (0 picks a free one)
 * @param host listen address. Default 127.0.0.1.
 * @throws PortInUseError naming `OFP_METRICS_PORT` when the port is taken
 */
export async function startMetricsServer(port: number, host = '127.0.0.1'): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      client.register.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': client.register.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics unavailable: ${err.message}\n`);
        },
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok' }));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: this listener serves /metrics and /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port, 'OFP_METRICS_PORT', { cause: err }) : err),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    url: `http://${host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
