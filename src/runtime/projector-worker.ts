/**
 * The projector worker process: a Temporal worker running the partition, supervisor and prune workflows with the
 * projector activities, plus the supervisor start and the retention Schedule (both idempotent).
 */
import { Client, Connection, ScheduleAlreadyRunning } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { ensureSearchAttributes } from '../services/temporal-server';
import { workflowBundlePath } from './workflow-bundle';
import type { Duration } from '@temporalio/common';
import type { EventBus } from '../bus/event-bus';
import type { RecordParser } from '../core/envelope';
import type { FeaturePolicy } from '../core/policy';
import { createPool } from '../db/pool';
import { createPrisma } from '../db/prisma';
import { SeriesResolver } from '../db/projection-store';
import type { Logger } from '../logger';
import { pruneScheduleId, supervisorWorkflowId } from '../workflows/messages';
import type { SupervisorInput } from '../workflows/supervisor-workflow';
import { collectProcessMetrics } from '../metrics/process-metrics';

export interface ProjectorWorkerOptions {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  policy: FeaturePolicy;
  parser: RecordParser;
  bus: EventBus;
  log: Logger;
  /** Start the supervisor workflow (idempotent). Default true. */
  startSupervisor?: boolean;
  supervisor?: SupervisorInput;
  /** Concurrent activities; one per partition is what runs at a time. Default 16. */
  maxConcurrentActivities?: number;
  /** Prefix of workflow and schedule IDs. Default `ofp` (SPEC 9); tests sharing one server use their own. */
  idPrefix?: string;
  /** Interval of the retention Schedule. Default 10 minutes. */
  pruneEvery?: Duration;
}

export interface RunningWorker {
  client: Client;
  /** Resolves when the worker stops. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;

/** The SDK logs worker state changes at INFO; OFP_TEMPORAL_LOG_LEVEL (default WARN) keeps them out of the way. */
function installRuntimeOnce(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger((process.env.OFP_TEMPORAL_LOG_LEVEL ?? 'WARN') as 'WARN') });
  } catch {
    // Already installed by the embedding process (tests); keep its logger.
  }
}

export async function startProjectorWorker(o: ProjectorWorkerOptions): Promise<RunningWorker> {
  collectProcessMetrics();
  installRuntimeOnce();
  const pool = createPool(o.databaseUrl, { max: 12, applicationName: 'ofp-worker' });
  const prisma = createPrisma(o.databaseUrl);
  const nativeConnection = await NativeConnection.connect({ address: o.temporalAddress });
  const connection = await Connection.connect({ address: o.temporalAddress });
  const client = new Client({ connection, namespace: o.namespace });
  // A production Temporal (not our dev server) may not know the OFP search attributes yet.
  await ensureSearchAttributes(connection, o.namespace, undefined, o.log);
  const activities = createActivities({
    pool,
    prisma,
    bus: o.bus,
    policy: o.policy,
    parser: o.parser,
    series: new SeriesResolver(pool),
    log: o.log,
    client,
    taskQueue: o.taskQueue,
    idPrefix: o.idPrefix,
  });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    workflowBundle: { codePath: await workflowBundlePath() },
    activities,
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivities ?? 16,
    // Updates and queries must be answered even while a long-poll activity runs.
    maxCachedWorkflows: 200,
  });
  const done = worker.run();

  if (o.startSupervisor ?? true) {
    await client.workflow.start('supervisorWorkflow', {
      workflowId: supervisorWorkflowId(o.idPrefix),
      taskQueue: o.taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [o.supervisor ?? {}],
    });
    try {
      await client.schedule.create({
        scheduleId: pruneScheduleId(o.idPrefix),
        spec: { intervals: [{ every: o.pruneEvery ?? '10 minutes' }] },
        action: {
          type: 'startWorkflow',
          workflowType: 'pruneRetentionWorkflow',
          taskQueue: o.taskQueue,
          args: [],
        },
      });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
  }
  o.log.info({ taskQueue: o.taskQueue, namespace: o.namespace }, 'projector worker running');

  return {
    client,
    done,
    async shutdown() {
      // On SIGTERM the SDK starts draining by itself; shutting down again would throw and skip the cleanup below.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch(() => undefined);
      await connection.close();
      await nativeConnection.close();
      await o.bus.close();
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
