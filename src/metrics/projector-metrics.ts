/** Prometheus metrics of the projector (SPEC 9), registered once per process in the default registry. */
import client from 'prom-client';

const labelNames = ['stream', 'partition'] as const;

export const projectorMetrics = {
  recordsRead: new client.Counter({
    name: 'ofp_records_read_total',
    help: 'Records read from the bus',
    labelNames,
  }),
  recordsApplied: new client.Counter({
    name: 'ofp_records_applied_total',
    help: 'Records applied',
    labelNames,
  }),
  duplicates: new client.Counter({
    name: 'ofp_records_duplicate_total',
    help: 'Duplicate copies counted, not applied',
    labelNames,
  }),
  quarantined: new client.Counter({
    name: 'ofp_records_quarantined_total',
    help: 'Invalid records quarantined, by class',
    labelNames: [...labelNames, 'class'],
  }),
  irrelevant: new client.Counter({
    name: 'ofp_records_irrelevant_total',
    help: 'Records no group reads, skipped',
    labelNames,
  }),
  batchSize: new client.Histogram({
    name: 'ofp_apply_batch_records',
    help: 'Records per applied batch',
    labelNames,
    buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000],
  }),
  applyLatency: new client.Histogram({
    name: 'ofp_apply_batch_seconds',
    help: 'Time to classify and commit one batch',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  }),
  phaseSeconds: new client.Histogram({
    name: 'ofp_apply_phase_seconds',
    help: 'Time per phase of a batch: read, prepare (parse, validate), classify (prefetch + rules), series, commit',
    labelNames: ['phase'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  }),
  lagRecords: new client.Gauge({
    name: 'ofp_partition_lag_records',
    help: 'Bus end offset minus checkpoint',
    labelNames,
  }),
  lagSeconds: new client.Gauge({
    name: 'ofp_partition_lag_seconds',
    help: 'Event time of the newest bus record minus event time of the last applied one',
    labelNames,
  }),
};
