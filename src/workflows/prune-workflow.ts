/** Run by the retention Schedule: prunes data that can no longer affect a servable answer (SPEC 4.4). */
import { proxyActivities } from '@temporalio/workflow';
import type { ProjectorActivities } from '../activities';

const acts = proxyActivities<ProjectorActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
});

export async function pruneRetentionWorkflow(): Promise<{ contributions: number; tiles: number }> {
  return acts.pruneRetention();
}
