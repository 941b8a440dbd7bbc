/**
 * The demo of `ofp up --demo`: generate events (when the bus is empty), let the Temporal projector apply them,
 * then ask the gateway a real GraphQL query and print it with its answer.
 */
import { generate } from '../generator/generate';
import { streamsOf } from '../core/policy';
import { formatTimestamp } from '../core/time';
import { createPool } from '../db/pool';
import { EXAMPLE_QUERY } from '../graphql/example-query';
import type { AppContext } from '../runtime/app-context';
import type { RunningGateway } from '../runtime/gateway';
import { tokenFor, type TokenTable } from '../serving/auth';
import { logger } from '../logger';

export interface DemoOptions {
  events: number;
}

async function busIsEmpty(app: AppContext): Promise<boolean> {
  for (const stream of streamsOf(app.policy.groups)) {
    for (const p of await app.bus.listPartitions(stream))
      if ((await app.bus.endOffset(stream, p)) > 0) return false;
  }
  return true;
}

async function prepare(app: AppContext, o: DemoOptions): Promise<void> {
  if (!(await busIsEmpty(app))) {
    logger.info({ bus: app.config.busRoot }, 'demo: bus already has events, not generating more');
    return;
  }
  const summary = await generate(
    {
      seed: 42,
      count: o.events,
      rate: 50,
      partitions: 2,
      duplicateFraction: 0.01,
      outOfOrderFraction: 0.02,
      payloadInvalidFraction: 0.002,
    },
    app.config.busRoot,
  );
  process.stdout.write(
    `demo: generated ${summary.events} records on ${summary.partitions} partitions per stream\n`,
  );
}

async function waitCaughtUp(rt: RunningGateway, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const parts = await rt.gateway.partitions();
    const lag = parts.reduce((s, p) => s + p.lagRecords, 0);
    const applied = parts.reduce((s, p) => s + p.applied, 0);
    const line = `demo: projecting through Temporal: ${applied} applied, ${lag} records to go`;
    if (line !== last) process.stdout.write(line + '\n');
    last = line;
    if (parts.length > 0 && lag === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `demo: projection did not catch up within ${timeoutMs / 1000} s (${lag} records behind)`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function show(
  app: AppContext,
  rt: RunningGateway,
  tokens: TokenTable,
  databaseUrl: string,
): Promise<void> {
  await waitCaughtUp(rt, 120_000);
  const pool = createPool(databaseUrl, { max: 1 });
  let variables;
  try {
    // The busiest merchant of the first run, as of that run's latest event.
    const { rows } = await pool.query(
      `SELECT r.*, s.key_id, (SELECT max(max_ts_us) FROM partition_watermarks w WHERE w.run_key = r.run_key) AS h
         FROM runs r JOIN series s ON s.run_key = r.run_key AND s.group_name = 'merchant_velocity'
         JOIN tiles t ON t.series_id = s.id AND t.granularity_us = 3600000000
        GROUP BY r.run_key, s.key_id ORDER BY r.created_at, sum(t.count) DESC LIMIT 1`,
    );
    if (rows.length === 0) throw new Error('demo: nothing was projected for merchant_velocity');
    const r = rows[0];
    variables = {
      pins: {
        platformRunId: r.platform_run_id,
        scenarioRunId: r.scenario_run_id,
        scenarioId: r.scenario_id,
        manifestFingerprint: r.manifest_fingerprint,
        parameterHash: r.parameter_hash,
        seed: String(r.seed),
      },
      asOf: formatTimestamp(Number(r.h)),
      keys: [{ keyType: 'merchant_id', keyId: r.key_id }],
      groups: [{ name: 'merchant_velocity', version: 'v1' }],
    };
  } finally {
    await pool.end();
  }
  const res = await fetch(`${rt.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(tokens, 'reader')}` },
    body: JSON.stringify({ query: EXAMPLE_QUERY, variables }),
  });
  const answer = await res.json();
  process.stdout.write(
    [
      'Sample query (POST /graphql):',
      EXAMPLE_QUERY,
      'Variables:',
      JSON.stringify(variables, null, 2),
      'Answer:',
      JSON.stringify(answer, null, 2),
      '',
    ].join('\n'),
  );
}

export const runDemo = { prepare, show };
