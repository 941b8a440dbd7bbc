/** Prometheus metrics of the gateway (SPEC 9): serve latency and errors by code. */
import client from 'prom-client';

export const servingMetrics = {
  latency: new client.Histogram({
    name: 'ofp_serve_seconds',
    help: 'Time to answer a features request',
    labelNames: ['transport', 'outcome'],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
  }),
  readBatch: new client.Histogram({
    name: 'ofp_read_batch_requests',
    help: 'Features requests answered by one read statement (requests that arrive while all reads run share the next)',
    buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32, 64],
  }),
  errors: new client.Counter({
    name: 'ofp_serve_errors_total',
    help: 'Features errors by code',
    labelNames: ['transport', 'code'],
  }),
};
