/**
 * `node bin/ofp worker` as a child process, for faults that need a real process to die (SIGKILL). Its stdout and
 * stderr go to a log file whose tail is shown when a test needs to explain a failure.
 */
import path from 'node:path';
import { childDir, REPO_ROOT, spawnOfp, type ChildOfp } from './child-ofp';

export interface ChildWorkerOptions {
  databaseUrl: string;
  temporalAddress: string;
  busRoot: string;
  taskQueue: string;
  idPrefix: string;
  policyPath?: string;
  logLevel?: string;
}

export type ChildWorker = ChildOfp;

export function startChildWorker(o: ChildWorkerOptions): ChildWorker {
  const dir = childDir('worker');
  return spawnOfp('worker', 'worker', dir, {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    OFP_BUS_ROOT: o.busRoot,
    OFP_TASK_QUEUE: o.taskQueue,
    OFP_ID_PREFIX: o.idPrefix,
    OFP_DATA_DIR: dir,
    OFP_POLICY: o.policyPath ?? path.join(REPO_ROOT, 'config/features.yaml'),
    OFP_LOG_LEVEL: o.logLevel ?? 'warn',
  });
}
