/**
 * The projector worker process: a Temporal worker running the partition, supervisor and prune workflows with the
 * projector activities, plus the supervisor start and the retention Schedule (both idempotent).
 */
import { Client, Connection, ScheduleAlreadyRunning } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Duration } from '@temporalio/common';
import type { EventBus } from '../bus/event-bus';
import type { RecordParser } from '../core/envelope';
import type { FeaturePolicy } from '../core/policy';
import { createPool } from '../db/pool';
import { SeriesResolver } from '../db/projection-store';
import type { Logger } from '../logger';
import { PRUNE_SCHEDULE_ID, SUPERVISOR_WORKFLOW_ID } from '../workflows/messages';
import type { SupervisorInput } from '../workflows/supervisor-workflow';

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
  /** Interval of the retention Schedule. Default 10 minutes. */
  pruneEvery?: Duration;
}

export interface RunningWorker {
  client: Client;
  /** Resolves when the worker stops. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export async function startProjectorWorker(o: ProjectorWorkerOptions): Promise<RunningWorker> {
  const pool = createPool(o.databaseUrl, { max: 12, applicationName: 'ofp-worker' });
  const nativeConnection = await NativeConnection.connect({ address: o.temporalAddress });
  const connection = await Connection.connect({ address: o.temporalAddress });
  const client = new Client({ connection, namespace: o.namespace });
  const activities = createActivities({
    pool,
    bus: o.bus,
    policy: o.policy,
    parser: o.parser,
    series: new SeriesResolver(pool),
    log: o.log,
    client,
    taskQueue: o.taskQueue,
  });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities,
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivities ?? 16,
    // Updates and queries must be answered even while a long-poll activity runs.
    maxCachedWorkflows: 200,
  });
  const done = worker.run();

  if (o.startSupervisor ?? true) {
    await client.workflow.start('supervisorWorkflow', {
      workflowId: SUPERVISOR_WORKFLOW_ID,
      taskQueue: o.taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [o.supervisor ?? {}],
    });
    try {
      await client.schedule.create({
        scheduleId: PRUNE_SCHEDULE_ID,
        spec: { intervals: [{ every: o.pruneEvery ?? '10 minutes' }] },
        action: { type: 'startWorkflow', workflowType: 'pruneRetentionWorkflow', taskQueue: o.taskQueue, args: [] },
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
      worker.shutdown();
      await done.catch(() => undefined);
      await connection.close();
      await nativeConnection.close();
      await o.bus.close();
      await pool.end();
    },
  };
}
