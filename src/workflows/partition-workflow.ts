/**
 * One workflow per (stream, partition): applies batches in offset order, long-polls the bus when caught up, obeys
 * operator updates, keeps its search attributes current and continues-as-new when Temporal suggests it.
 * Deterministic code only: all I/O happens in activities.
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProjectorActivities } from '../activities';
import {
  OfpNextOffset,
  OfpPartition,
  OfpState,
  OfpStream,
  pauseUpdate,
  resumeUpdate,
  retryUpdate,
  skipUpdate,
  statusQuery,
  type PartitionStatus,
} from './messages';

export interface PartitionWorkflowInput {
  stream: string;
  partition: number;
  /** Records per batch. Default 2000. */
  batchSize?: number;
  /**
   * Batches one activity may apply back to back (waiting for new records between them, up to 10 s per activity).
   * Default 16; 1 means one activity per batch. Measured in README, "Batches per activity".
   */
  batchesPerActivity?: number;
  /** How long one poll waits for new records when caught up. Default 60 s. */
  idleWaitMs?: number;
  /** Continue-as-new after this many batches even if Temporal has not suggested it. Default 2000. */
  maxBatchesPerRun?: number;
}

const batchActivities = proxyActivities<ProjectorActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '500 ms',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: ['PolicyError'],
  },
});

const controlActivities = proxyActivities<ProjectorActivities>({
  startToCloseTimeout: '1 minute',
  // A refused action (skip with nothing stalled) fails the update at once instead of retrying forever.
  retry: {
    initialInterval: '500 ms',
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: ['PartitionControlError'],
  },
});

export async function partitionWorkflow(input: PartitionWorkflowInput): Promise<void> {
  const { stream, partition } = input;
  const batchSize = input.batchSize ?? 2000;
  const idleWaitMs = input.idleWaitMs ?? 60_000;
  const maxBatches = input.maxBatchesPerRun ?? 2000;

  const cp = await controlActivities.ensurePartition({ stream, partition });
  const status: PartitionStatus = {
    stream,
    partition,
    state: cp.state,
    nextOffset: cp.nextOffset,
    endOffset: cp.endOffset,
    lagSeconds: null,
    batches: 0,
    appliedInRun: 0,
    stalled: cp.stalled,
  };
  let polling: CancellationScope | undefined;
  let published = '';
  const publish = (): void => {
    const sig = `${status.state}:${status.nextOffset}`;
    if (sig === published) return;
    published = sig;
    upsertSearchAttributes([
      { key: OfpStream, value: stream },
      { key: OfpPartition, value: partition },
      { key: OfpState, value: status.state },
      { key: OfpNextOffset, value: status.nextOffset },
    ]);
  };
  const adopt = (s: {
    state: PartitionStatus['state'];
    nextOffset: number;
    stalled: PartitionStatus['stalled'];
  }): PartitionStatus => {
    status.state = s.state;
    status.nextOffset = s.nextOffset;
    status.stalled = s.stalled;
    publish();
    return { ...status };
  };

  setHandler(statusQuery, () => ({ ...status }));
  setHandler(pauseUpdate, async () => {
    const s = await controlActivities.setPartitionState({ stream, partition, action: 'pause' });
    polling?.cancel(); // stop an idle long-poll at once; an in-flight commit is fenced on state RUNNING
    return adopt(s);
  });
  setHandler(resumeUpdate, async () =>
    adopt(await controlActivities.setPartitionState({ stream, partition, action: 'resume' })),
  );
  setHandler(retryUpdate, async () =>
    adopt(await controlActivities.setPartitionState({ stream, partition, action: 'retry' })),
  );
  setHandler(skipUpdate, async () => adopt(await controlActivities.skipStalledRecord({ stream, partition })));

  publish();
  for (;;) {
    await condition(() => status.state === 'RUNNING');
    const caughtUp = status.nextOffset >= status.endOffset;
    try {
      polling = new CancellationScope();
      const result = await polling.run(() =>
        batchActivities.applyBatch({
          stream,
          partition,
          maxRecords: batchSize,
          waitMs: caughtUp ? idleWaitMs : 0,
          maxBatches: input.batchesPerActivity ?? 16,
        }),
      );
      status.endOffset = result.endOffset;
      status.lagSeconds = result.lagSeconds ?? status.lagSeconds;
      status.batches++;
      status.appliedInRun += result.counts.applied;
      // The database is the authority on state; an update may have changed it while the batch ran.
      if (status.state === 'RUNNING' || result.state !== 'RUNNING')
        adopt({ state: result.state, nextOffset: result.nextOffset, stalled: result.stalled ?? null });
      else status.nextOffset = result.nextOffset;
    } catch (err) {
      if (!isCancellation(err)) throw err;
    } finally {
      polling = undefined;
    }
    if (workflowInfo().continueAsNewSuggested || status.batches >= maxBatches) {
      await condition(allHandlersFinished); // an operator's update must not be cut off by the new run
      await continueAsNew<typeof partitionWorkflow>(input);
    }
  }
}
