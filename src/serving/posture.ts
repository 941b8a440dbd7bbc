/** Live posture of the partitions a request reads (SPEC 5.6): not hashed, reported beside the snapshot. */
export type PostureState = 'GREEN' | 'AMBER' | 'RED';
export type PostureFlag = 'PARTITION_LAGGING' | 'PARTITION_PAUSED' | 'PARTITION_STALLED';

export interface PartitionPosture {
  stream: string;
  partition: number;
  state: 'RUNNING' | 'PAUSED' | 'STALLED';
  lagRecords: number;
  lagSeconds: number | null;
}

export interface PostureModel {
  state: PostureState;
  flags: PostureFlag[];
  partitions: PartitionPosture[];
}

/** A partition is lagging when this many records or seconds of event time are not applied yet. */
export const LAG_RECORDS_THRESHOLD = 1000;
export const LAG_SECONDS_THRESHOLD = 30;

export function isLagging(p: PartitionPosture): boolean {
  return p.lagRecords > LAG_RECORDS_THRESHOLD || (p.lagSeconds ?? 0) > LAG_SECONDS_THRESHOLD;
}

export function computePosture(partitions: PartitionPosture[]): PostureModel {
  const flags = new Set<PostureFlag>();
  for (const p of partitions) {
    if (p.state === 'STALLED') flags.add('PARTITION_STALLED');
    if (p.state === 'PAUSED') flags.add('PARTITION_PAUSED');
    if (isLagging(p)) flags.add('PARTITION_LAGGING');
  }
  const state: PostureState = flags.has('PARTITION_STALLED') ? 'RED' : flags.size > 0 ? 'AMBER' : 'GREEN';
  return { state, flags: [...flags].sort(), partitions };
}
