/**
 * Everything the outside world says to projector workflows, in one module: IDs, search attributes, the status
 * query and the operator updates. Imported by workflows, the gateway and the CLI alike.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export type PartitionState = 'RUNNING' | 'PAUSED' | 'STALLED';

export interface PartitionStatus {
  stream: string;
  partition: number;
  state: PartitionState;
  nextOffset: number;
  endOffset: number;
  lagSeconds: number | null;
  batches: number;
  appliedInRun: number;
  stalled: { offset: number; class: string; reason: string } | null;
}

/** Prefix of every workflow and schedule ID. `ofp` in production (SPEC 9); tests sharing a server use their own. */
export const DEFAULT_ID_PREFIX = 'ofp';

export function supervisorWorkflowId(prefix = DEFAULT_ID_PREFIX): string {
  return `${prefix}/supervisor`;
}

export function pruneScheduleId(prefix = DEFAULT_ID_PREFIX): string {
  return `${prefix}/retention-prune`;
}

/** Deterministic ID of the workflow that owns one partition (SPEC 9): `ofp/<stream>/<partition>`. */
export function partitionWorkflowId(stream: string, partition: number, prefix = DEFAULT_ID_PREFIX): string {
  return `${prefix}/${stream}/${partition}`;
}

export const OfpStream = defineSearchAttributeKey('OfpStream', SearchAttributeType.KEYWORD);
export const OfpPartition = defineSearchAttributeKey('OfpPartition', SearchAttributeType.INT);
export const OfpState = defineSearchAttributeKey('OfpState', SearchAttributeType.KEYWORD);
export const OfpNextOffset = defineSearchAttributeKey('OfpNextOffset', SearchAttributeType.INT);

export const statusQuery = defineQuery<PartitionStatus>('status');
export const pauseUpdate = defineUpdate<PartitionStatus>('pause');
export const resumeUpdate = defineUpdate<PartitionStatus>('resume');
/** Quarantines the record a stalled partition stopped at and advances past it. */
export const skipUpdate = defineUpdate<PartitionStatus>('skip');
/** Re-reads the record a stalled partition stopped at (after the bus or the policy was fixed). */
export const retryUpdate = defineUpdate<PartitionStatus>('retry');
