import http from 'node:http';
import { startMetricsServer, type MetricsServer } from '../../src/runtime/metrics-server';
import { projectorMetrics } from '../../src/metrics/projector-metrics';

describe('the standalone worker metrics listener', () => {
  let server: MetricsServer;
  beforeAll(async () => {
    server = await startMetricsServer(0);
  });
  afterAll(() => server.close());

  it('serves the projector metrics in the Prometheus text format at /metrics', async () => {
    projectorMetrics.recordsRead.inc({ stream: 's', partition: '3' }, 5);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/ofp_records_read_total\{stream="s",partition="3"\} 5/);
  });

  it('answers /healthz and nothing else', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/graphql`)).status).toBe(404);
  });

  it('refuses a port in use with an error naming OFP_METRICS_PORT', async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const { port } = blocker.address() as { port: number };
    try {
      await expect(startMetricsServer(port)).rejects.toThrow(
        `port ${port} is in use; set OFP_METRICS_PORT to another port`,
      );
    } finally {
      blocker.close();
    }
  });
});
