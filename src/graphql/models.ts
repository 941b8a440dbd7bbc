/** Internal models that GraphQL types map to (codegen `mappers`); resolvers turn them into the public shape. */
import type { SnapshotContent } from '../core/snapshot';
import type { FeaturesErrorCode } from '../serving/errors';
import type { PostureModel } from '../serving/posture';

export interface SnapshotModel {
  content: SnapshotContent;
  snapshotHash: string;
  createdAt: string;
  requestId: string;
  posture: PostureModel;
}

export interface FeaturesErrorModel {
  code: FeaturesErrorCode;
  retryable: boolean;
  detail: string;
  requestId: string;
}

export interface PartitionHealthModel {
  stream: string;
  partition: number;
  nextOffset: number;
  endOffset: number;
  lagRecords: number;
  lagSeconds: number | null;
  state: 'RUNNING' | 'PAUSED' | 'STALLED';
  quarantined: number;
  applied: number;
  duplicates: number;
  irrelevant: number;
  stalledOffset: number | null;
  stalledClass: string | null;
  stalledReason: string | null;
}
