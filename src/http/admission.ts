/**
 * Load shedding for the serving endpoints. Past its capacity a gateway that keeps accepting requests only queues
 * them: every answer comes late, memory grows with the queue, and callers time out anyway. Bounding the requests in
 * flight turns overload into immediate, retryable UNAVAILABLE answers for the excess while the admitted ones keep
 * their latency; the Decision Fabric retries (or fails over) at once instead of waiting on a queue.
 */
import client from 'prom-client';

export const admissionMetrics = {
  inflight: new client.Gauge({
    name: 'ofp_serve_inflight_requests',
    help: 'Serving requests (GraphQL, /v1/get_features) being answered now',
  }),
  shed: new client.Counter({
    name: 'ofp_serve_shed_total',
    help: 'Serving requests refused with UNAVAILABLE because the gateway was at its in-flight limit',
    labelNames: ['endpoint'] as const,
  }),
};

export class InflightLimit {
  private current = 0;

  /** @param max requests answered at once; the next ones are refused until one finishes (at least 1) */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`in-flight limit must be a positive integer, got ${max}`);
  }

  get inflight(): number {
    return this.current;
  }

  /** Admits a request (true) unless `max` are in flight; every admitted request must call `leave()` once. */
  tryEnter(): boolean {
    if (this.current >= this.max) return false;
    this.current++;
    admissionMetrics.inflight.set(this.current);
    return true;
  }

  leave(): void {
    if (this.current > 0) this.current--;
    admissionMetrics.inflight.set(this.current);
  }
}

/** What a refused request is told (the code and retryability of SPEC 5.8's UNAVAILABLE). */
export function overloadDetail(limit: InflightLimit): string {
  return `gateway overloaded: ${limit.max} requests already in flight; retry shortly`;
}
