/** Prometheus metrics of the gateway (SPEC 9): serve latency and errors by code. */
import client from 'prom-client';

export const servingMetrics = {
  latency: new client.Histogram({
    name: 'ofp_serve_seconds',
    help: 'Time to answer a features request',
    labelNames: ['transport', 'outcome'],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
  }),
  errors: new client.Counter({
    name: 'ofp_serve_errors_total',
    help: 'Features errors by code',
    labelNames: ['transport', 'code'],
  }),
};
