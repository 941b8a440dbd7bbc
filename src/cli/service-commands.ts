/** `ofp up`, `ofp worker`, `ofp serve`, `ofp db migrate`, `ofp temporal install`. */
import type { Command } from 'commander';
import { logger } from '../logger';
import { loadAppContext, type AppContext } from '../runtime/app-context';
import { migrateDatabase } from '../runtime/migrate';
import { startMetricsServer } from '../runtime/metrics-server';
import { startGateway } from '../runtime/gateway';
import { parseTokens, tokenFor, type TokenTable } from '../serving/auth';
import { startServices } from '../services/stack';
import { installTemporal } from '../services/temporal-cli';
import { runDemo, type DemoOptions } from './demo';

/**
 * The projector worker, loaded only by the commands that run it: `ofp serve` then starts without the Temporal
 * worker's native core and bundler (about 16 MB of memory and a quarter of a second).
 */
async function startProjectorWorker(
  options: Parameters<typeof import('../runtime/projector-worker').startProjectorWorker>[0],
) {
  // require, not import(): under tsx (bin/ofp) a dynamic import() is resolved as ESM, which needs file extensions.
  const worker = require('../runtime/projector-worker') as typeof import('../runtime/projector-worker');
  return worker.startProjectorWorker(options);
}

/** Resolves on SIGINT / SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

/** Runs `stop` steps in reverse order of start, logging (not throwing) failures so every step runs. */
async function stopAll(steps: (() => Promise<void>)[]): Promise<void> {
  for (const step of steps.reverse())
    await step().catch((err: unknown) => logger.warn({ err }, 'shutdown step failed'));
}

type Services = Awaited<ReturnType<typeof startServices>>;

/** Worker options from the configuration and the running services (shared by `up` and `worker`). */
function workerOptions(
  app: AppContext,
  services: Services & { temporalAddress: string },
  discoveryIntervalMs?: number,
) {
  return {
    databaseUrl: services.databaseUrl,
    temporalAddress: services.temporalAddress,
    namespace: services.temporalNamespace,
    taskQueue: app.config.taskQueue,
    idPrefix: app.config.idPrefix,
    policy: app.policy,
    parser: app.parser,
    bus: app.bus,
    log: logger,
    supervisor: {
      discoveryIntervalMs,
      batchSize: app.config.batchSize,
      batchesPerActivity: app.config.batchesPerActivity,
    },
  };
}

/** Gateway options from the configuration and the running services (shared by `up` and `serve`). */
function gatewayOptions(app: AppContext, services: Services, tokens: TokenTable) {
  return {
    databaseUrl: services.databaseUrl,
    temporalAddress: services.temporalAddress,
    namespace: services.temporalNamespace,
    policy: app.policy,
    bus: app.bus,
    tokens,
    port: app.config.httpPort,
    host: app.config.httpHost,
    introspection: app.config.introspection,
    graphqlFastPath: app.config.graphqlFastPath,
    maxInflight: app.config.maxInflight,
    readConcurrency: app.config.readConcurrency,
    idPrefix: app.config.idPrefix,
    log: logger,
  };
}

export function registerServiceCommands(program: Command): void {
  program
    .command('up')
    .description(
      'start PostgreSQL and Temporal (embedded unless configured), apply migrations, run worker and gateway',
    )
    .option(
      '--demo',
      'generate events if the bus is empty, wait for projection, print a sample query and its answer',
    )
    .option('--demo-events <n>', 'events to generate for the demo', '20000')
    .option('--exit-after-demo', 'stop everything after printing the demo answer (for scripts and tests)')
    .action(async (opts: { demo?: boolean; demoEvents: string; exitAfterDemo?: boolean }) => {
      const started = Date.now();
      const app = loadAppContext();
      const services = await startServices(app.config, logger);
      const stops: (() => Promise<void>)[] = [() => services.stop()];
      try {
        await migrateDatabase(services.databaseUrl, logger);
        const tokens = parseTokens(app.config.tokens);
        const demo: DemoOptions | undefined = opts.demo ? { events: Number(opts.demoEvents) } : undefined;
        if (demo) await runDemo.prepare(app, demo);
        const worker = await startProjectorWorker(workerOptions(app, services, 2000));
        stops.push(() => worker.shutdown());
        const gw = await startGateway(gatewayOptions(app, services, tokens));
        stops.push(() => gw.stop());
        const readyMs = Date.now() - started;
        const lines = [
          '',
          `OFP is up in ${(readyMs / 1000).toFixed(1)} s`,
          `  GraphQL      ${gw.url}/graphql`,
          `  contract     POST ${gw.url}/v1/get_features`,
          `  metrics      ${gw.url}/metrics`,
          `  Temporal UI  ${services.temporalUiUrl ?? '(external Temporal: ' + services.temporalAddress + ')'}`,
          `  bus          ${app.config.busRoot}`,
        ];
        if (tokens.generated) {
          lines.push(
            `  reader token   ${tokenFor(tokens, 'reader')}`,
            `  operator token ${tokenFor(tokens, 'operator')}`,
          );
        }
        process.stdout.write(lines.join('\n') + '\n\n');
        if (demo) await runDemo.show(app, gw, tokens, services.databaseUrl);
        if (opts.exitAfterDemo) return;
        process.stdout.write('Press Ctrl-C to stop.\n');
        const sig = await untilSignal();
        logger.info({ signal: sig }, 'stopping');
      } finally {
        await stopAll(stops);
      }
    });

  program
    .command('worker')
    .description('run the projector worker (Temporal workflows and activities)')
    .action(async () => {
      const app = loadAppContext();
      const services = await startServices(app.config, logger);
      const stops: (() => Promise<void>)[] = [() => services.stop()];
      try {
        await migrateDatabase(services.databaseUrl, logger);
        // `ofp up` serves the worker's metrics on the gateway's /metrics; alone, the worker needs its own listener.
        const metrics = await startMetricsServer(app.config.metricsPort, app.config.httpHost);
        stops.push(() => metrics.close());
        logger.info({ url: `${metrics.url}/metrics` }, 'worker metrics listening');
        const worker = await startProjectorWorker(workerOptions(app, services));
        stops.push(() => worker.shutdown());
        await Promise.race([untilSignal(), worker.done]);
      } finally {
        await stopAll(stops);
      }
    });

  program
    .command('serve')
    .description('run the GraphQL gateway and the platform contract endpoint')
    .action(async () => {
      const app = loadAppContext();
      // The gateway needs PostgreSQL; Temporal only for operator mutations, so it is used only when configured.
      const services = await startServices(app.config, logger, {
        temporal: app.config.temporalAddress !== undefined,
      });
      const stops: (() => Promise<void>)[] = [() => services.stop()];
      try {
        const tokens = parseTokens(app.config.tokens);
        const gw = await startGateway(gatewayOptions(app, services, tokens));
        stops.push(() => gw.stop());
        if (tokens.generated)
          process.stdout.write(
            `reader token ${tokenFor(tokens, 'reader')}\noperator token ${tokenFor(tokens, 'operator')}\n`,
          );
        await untilSignal();
      } finally {
        await stopAll(stops);
      }
    });

  program
    .command('db')
    .description('database administration')
    .command('migrate')
    .description('apply the committed Prisma migrations')
    .action(async () => {
      const app = loadAppContext();
      const services = await startServices(app.config, logger, { temporal: false });
      try {
        await migrateDatabase(services.databaseUrl, logger);
      } finally {
        await services.stop();
      }
    });

  program
    .command('temporal')
    .description('Temporal CLI dev server management')
    .command('install')
    .description('find or build the pinned Temporal CLI (cached outside the clone)')
    .action(async () => {
      await installTemporal({ log: logger });
    });
}
