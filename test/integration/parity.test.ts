/**
 * Parity (SPEC 6) inside `npm test`: ~5,000 generated events (2 runs, duplicates, anomalies, out-of-order and every
 * invalid kind) projected through the real stack (PostgreSQL + Temporal), then ~300 random requests asked of the
 * real gateway over HTTP GraphQL and replayed offline from the bus at each answer's basis: all must match —
 * values, freshness, snapshot hashes, and error codes.
 */
import { generate } from '../../src/generator/generate';
import { MIXED_TRAFFIC } from './support/traffic';
import { formatParityReport, runParity } from '../../src/replay/parity';
import { createTestStack, READER_TOKEN, type TestStack } from './support/stack';

jest.setTimeout(120_000);

describe('parity: gateway answers vs offline replay', () => {
  let stack: TestStack;
  afterAll(async () => stack?.stop());

  it('300 random requests match the offline replay at their basis, 100 %', async () => {
    stack = await createTestStack();
    const summary = await generate(
      {
        seed: 2027,
        count: 5000,
        rate: 2,
        ...MIXED_TRAFFIC,
      },
      stack.busRoot,
    );
    expect(summary.classes.duplicate).toBeGreaterThan(0);
    await stack.startWorker();
    await stack.waitCaughtUp(90_000);
    const gw = await stack.startGateway();

    const report = await runParity({
      url: gw.url,
      token: READER_TOKEN,
      samples: 300,
      seed: 17,
      bus: stack.bus,
      policy: stack.policy,
      parser: stack.parser,
      concurrency: 4,
    });
    const text = formatParityReport(report);
    process.stderr.write(`${text}\n`);
    expect(report.samples).toBe(300);
    expect(report.mismatches.map((m) => m.sample.index)).toEqual([]);
    expect(report.matches).toBe(300);
    // The draw reached snapshots and errors alike, and one replay answered them all (the projection was idle).
    expect(report.outcomes.OK).toBeGreaterThan(200);
    expect(Object.keys(report.statuses).sort()).toEqual(['NO_DATA', 'OK', 'STALE']);
    expect(Object.keys(report.errorsByCode)).toEqual(
      expect.arrayContaining(['NOT_FOUND', 'INVALID_REQUEST']),
    );
    expect(report.replays).toHaveLength(1);
    expect(report.replays[0].records).toBe(summary.events);
  });
});
