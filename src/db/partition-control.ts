/** Operator actions on a partition's checkpoint (SPEC 4.5): pause, resume, retry and skip of a stalled record. */
import type { Pool } from './pool';
import { inTransaction } from './pool';
import {
  insertQuarantine,
  readCheckpoint,
  type CheckpointRow,
  type PartitionState,
} from './projection-store';
import type { EventBus } from '../bus/event-bus';
import type { FeaturePolicy } from '../core/policy';
import type { RecordParser } from '../core/envelope';
import { prepareRecord } from '../core/projection';
import type { InvalidClass } from '../core/record';

export class PartitionControlError extends Error {
  override name = 'PartitionControlError';
}

export type ControlAction = 'pause' | 'resume' | 'retry';

const TRANSITIONS: Record<ControlAction, { from: PartitionState[]; to: PartitionState }> = {
  pause: { from: ['RUNNING'], to: 'PAUSED' },
  resume: { from: ['PAUSED'], to: 'RUNNING' },
  retry: { from: ['STALLED'], to: 'RUNNING' },
};

/** Applies a state transition; a partition already in the target state is left as it is (idempotent). */
export async function setPartitionState(
  pool: Pool,
  stream: string,
  partition: number,
  action: ControlAction,
): Promise<CheckpointRow> {
  const t = TRANSITIONS[action];
  await pool.query(
    `UPDATE checkpoints SET state = $3, stalled_offset = CASE WHEN $3 = 'RUNNING' THEN NULL ELSE stalled_offset END,
            stalled_class = CASE WHEN $3 = 'RUNNING' THEN NULL ELSE stalled_class END,
            stalled_reason = CASE WHEN $3 = 'RUNNING' THEN NULL ELSE stalled_reason END, updated_at = now()
      WHERE stream = $1 AND partition = $2 AND state = ANY($4::text[])`,
    [stream, partition, t.to, t.from],
  );
  const cp = await readCheckpoint(pool, stream, partition);
  if (cp.state !== t.to && !(action === 'pause' && cp.state === 'STALLED')) {
    throw new PartitionControlError(
      `${stream}/${partition}: cannot ${action} a partition that is ${cp.state}`,
    );
  }
  return cp;
}

/**
 * Stalls a RUNNING partition at `offset` for a reason that is not one invalid record (rewritten bus history).
 * Fenced on the checkpoint: returns false when another writer moved it first.
 */
export async function stallPartition(
  pool: Pool,
  stream: string,
  partition: number,
  offset: number,
  stallClass: string,
  reason: string,
): Promise<boolean> {
  const moved = await pool.query(
    `UPDATE checkpoints SET state = 'STALLED', stalled_offset = $3, stalled_class = $4, stalled_reason = $5,
            updated_at = now()
      WHERE stream = $1 AND partition = $2 AND state = 'RUNNING' AND next_offset = $3`,
    [stream, partition, offset, stallClass, reason],
  );
  return moved.rowCount === 1;
}

/** Quarantines the record a stalled partition stopped at (resolution `skip`) and advances past it. */
export async function skipStalledRecord(
  pool: Pool,
  bus: EventBus,
  policy: FeaturePolicy,
  parser: RecordParser,
  stream: string,
  partition: number,
): Promise<CheckpointRow> {
  const cp = await readCheckpoint(pool, stream, partition);
  if (cp.state !== 'STALLED' || cp.stalledOffset === null) {
    throw new PartitionControlError(`${stream}/${partition}: nothing to skip, the partition is ${cp.state}`);
  }
  if (cp.stalledClass === 'history_rewritten') {
    throw new PartitionControlError(
      `${stream}/${partition}: stalled because the bus history was rewritten, not at one invalid record; ` +
        'restore the partition file, then retry',
    );
  }
  const offset = cp.stalledOffset;
  const { records } = await bus.read(stream, partition, offset, 1);
  const record = records[0];
  if (!record)
    throw new PartitionControlError(
      `${stream}/${partition}: stalled record at offset ${offset} is not on the bus`,
    );
  const prepared = prepareRecord(record, policy, parser);
  const runKey = prepared.kind === 'candidate' ? prepared.runKey : prepared.decision.runKey;
  const envelope =
    prepared.kind === 'candidate'
      ? prepared.envelope
      : 'envelope' in prepared.decision
        ? prepared.decision.envelope
        : undefined;
  await inTransaction(pool, 'BEGIN', async (client) => {
    const moved = await client.query(
      `UPDATE checkpoints SET next_offset = next_offset + 1, records_read = records_read + 1, quarantined = quarantined + 1,
              state = 'RUNNING', stalled_offset = NULL, stalled_class = NULL, stalled_reason = NULL, updated_at = now()
        WHERE stream = $1 AND partition = $2 AND state = 'STALLED' AND next_offset = $3`,
      [stream, partition, offset],
    );
    if (moved.rowCount !== 1)
      throw new PartitionControlError(`${stream}/${partition}: checkpoint moved while skipping`);
    await insertQuarantine(
      client,
      [
        {
          record,
          class: (cp.stalledClass ?? 'unparseable') as InvalidClass,
          reason: cp.stalledReason ?? 'skipped by operator',
          runKey,
          envelope,
        },
      ],
      'skip',
    );
  });
  return readCheckpoint(pool, stream, partition);
}
