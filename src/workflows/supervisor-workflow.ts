/**
 * One supervisor per deployment (ID `ofp/supervisor`): finds the partitions of every stream the policy reads and
 * makes sure each has its partition workflow. Starting it twice is harmless (the ID is fixed; the activity starts
 * partition workflows with "use existing" on conflict).
 */
import { continueAsNew, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { ProjectorActivities } from '../activities';

export interface SupervisorInput {
  /** How often to look for new partitions. Default 10 s. */
  discoveryIntervalMs?: number;
  /** Passed to every partition workflow. */
  batchSize?: number;
  idleWaitMs?: number;
  batchesPerActivity?: number;
}

const acts = proxyActivities<ProjectorActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function supervisorWorkflow(input: SupervisorInput = {}): Promise<void> {
  const known = new Set<string>();
  for (let round = 0; round < 500; round++) {
    const partitions = await acts.discoverPartitions();
    const fresh = partitions.filter((p) => !known.has(`${p.stream}/${p.partition}`));
    if (fresh.length > 0) {
      await acts.startPartitionWorkflows({
        partitions: fresh,
        batchSize: input.batchSize,
        idleWaitMs: input.idleWaitMs,
        batchesPerActivity: input.batchesPerActivity,
      });
      for (const p of fresh) known.add(`${p.stream}/${p.partition}`);
    }
    if (workflowInfo().continueAsNewSuggested) break;
    await sleep(input.discoveryIntervalMs ?? 10_000);
  }
  await continueAsNew<typeof supervisorWorkflow>(input);
}
