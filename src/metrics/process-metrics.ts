/**
 * Node process metrics (prom-client defaults): CPU, resident memory, heap by space, GC pauses by kind and event-loop
 * delay. Latency tails of the gateway and apply stalls of the worker are read against these. Idempotent, since the
 * demo runs the gateway and the worker in one process.
 */
import client from 'prom-client';

let collecting = false;

export function collectProcessMetrics(): void {
  if (collecting) return;
  collecting = true;
  // 10 ms: fine enough to see a GC pause or a long synchronous step in the event-loop delay histogram.
  client.collectDefaultMetrics({ eventLoopMonitoringPrecision: 10 });
}
