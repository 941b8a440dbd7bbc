/**
 * Projector activities. Workflows import only the type `ProjectorActivities`; the worker builds the implementations
 * with their dependencies (pool, bus, policy, Temporal client).
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { EventBus } from '../bus/event-bus';
import type { RecordParser } from '../core/envelope';
import type { FeaturePolicy } from '../core/policy';
import { streamsOf } from '../core/policy';
import type { Pool } from '../db/pool';
import type { PrismaClient } from '../db/prisma';
import { readCheckpoint, type SeriesResolver } from '../db/projection-store';
import { setPartitionState, skipStalledRecord, type ControlAction } from '../db/partition-control';
import { pruneRetention } from '../db/retention';
import type { Logger } from '../logger';
import { PartitionApplier, type ApplyResult } from '../projector/partition-applier';
import {
  partitionWorkflowId,
  OfpPartition,
  OfpState,
  OfpStream,
  OfpNextOffset,
  type PartitionStatus,
} from '../workflows/messages';

export interface ActivityDeps {
  pool: Pool;
  /** Prisma client for the low-rate control paths; hot paths use set-based SQL on `pool`. */
  prisma: PrismaClient;
  bus: EventBus;
  policy: FeaturePolicy;
  parser: RecordParser;
  series: SeriesResolver;
  log: Logger;
  /** Temporal client used to start partition workflows. */
  client: Client;
  taskQueue: string;
  /** Workflow ID prefix. Default `ofp`. */
  idPrefix?: string;
}

export interface PartitionRef {
  stream: string;
  partition: number;
}

type ControlResult = Pick<PartitionStatus, 'state' | 'nextOffset' | 'stalled'>;

function controlResult(cp: Awaited<ReturnType<typeof readCheckpoint>>): ControlResult {
  return {
    state: cp.state,
    nextOffset: cp.nextOffset,
    stalled:
      cp.stalledOffset === null
        ? null
        : { offset: cp.stalledOffset, class: cp.stalledClass ?? '', reason: cp.stalledReason ?? '' },
  };
}

export interface ApplyBatchInput {
  /** Records per batch (one transaction). */
  maxRecords: number;
  /** Wait for records before the first batch when caught up. */
  waitMs: number;
  /** Batches one activity may apply. Default 1. */
  maxBatches?: number;
  /** Wall-clock budget of one activity, so status and search attributes refresh. Default 10 s. */
  maxActivityMs?: number;
}

function addCounts(a: ApplyResult['counts'], b: ApplyResult['counts']): ApplyResult['counts'] {
  return {
    read: a.read + b.read,
    applied: a.applied + b.applied,
    duplicates: a.duplicates + b.duplicates,
    anomalies: a.anomalies + b.anomalies,
    irrelevant: a.irrelevant + b.irrelevant,
    quarantined: a.quarantined + b.quarantined,
  };
}

export function createActivities(deps: ActivityDeps) {
  const applier = new PartitionApplier(deps);
  return {
    /** Creates the checkpoint row if needed and returns the partition's current position. */
    async ensurePartition(ref: PartitionRef): Promise<ControlResult & { endOffset: number }> {
      const row = await deps.prisma.checkpoint.upsert({
        where: { stream_partition: { stream: ref.stream, partition: ref.partition } },
        create: { stream: ref.stream, partition: ref.partition, nextOffset: 0n },
        update: {},
      });
      return {
        state: row.state as PartitionStatus['state'],
        nextOffset: Number(row.nextOffset),
        stalled:
          row.stalledOffset === null
            ? null
            : {
                offset: Number(row.stalledOffset),
                class: row.stalledClass ?? '',
                reason: row.stalledReason ?? '',
              },
        endOffset: await deps.bus.endOffset(ref.stream, ref.partition),
      };
    },

    /** Applies one batch at the checkpoint, waiting up to `waitMs` for records when caught up. */
    async applyBatch(input: PartitionRef & ApplyBatchInput): Promise<ApplyResult> {
      const ctx = Context.current();
      const options = {
        maxRecords: input.maxRecords,
        signal: ctx.cancellationSignal,
        heartbeat: () => ctx.heartbeat(),
      };
      const started = Date.now();
      // One activity applies batches back to back (each its own fenced transaction), heartbeating its progress, and
      // while records keep arriving it waits for them instead of returning: fewer Temporal round trips per record,
      // and a steady stream is applied as soon as it is appended. It returns after `maxBatches`, after
      // `maxActivityMs`, when a wait times out, or when the partition leaves RUNNING.
      let result = await applier.applyOnce(input.stream, input.partition, {
        ...options,
        waitMs: input.waitMs,
      });
      for (let i = 1; i < (input.maxBatches ?? 1); i++) {
        if (
          result.state !== 'RUNNING' ||
          result.fenced ||
          result.counts.read === 0 ||
          ctx.cancellationSignal.aborted
        )
          break;
        const remaining = (input.maxActivityMs ?? 10_000) - (Date.now() - started);
        if (remaining <= 0) break;
        ctx.heartbeat({ nextOffset: result.nextOffset });
        const caughtUp = result.nextOffset >= result.endOffset;
        const next = await applier.applyOnce(input.stream, input.partition, {
          ...options,
          waitMs: caughtUp ? remaining : 0,
        });
        result = {
          ...next,
          fromOffset: result.fromOffset,
          counts: addCounts(result.counts, next.counts),
          lagSeconds: next.lagSeconds ?? result.lagSeconds,
        };
        if (next.counts.read === 0) break;
      }
      return result;
    },

    async setPartitionState(input: PartitionRef & { action: ControlAction }): Promise<ControlResult> {
      return controlResult(await setPartitionState(deps.pool, input.stream, input.partition, input.action));
    },

    async skipStalledRecord(ref: PartitionRef): Promise<ControlResult> {
      const cp = await skipStalledRecord(
        deps.pool,
        deps.bus,
        deps.policy,
        deps.parser,
        ref.stream,
        ref.partition,
      );
      deps.log.info({ ...ref, nextOffset: cp.nextOffset }, 'stalled record skipped by operator');
      return controlResult(cp);
    },

    /** Every partition of every stream the policy reads. */
    async discoverPartitions(): Promise<PartitionRef[]> {
      const out: PartitionRef[] = [];
      for (const stream of streamsOf(deps.policy.groups)) {
        for (const partition of await deps.bus.listPartitions(stream)) out.push({ stream, partition });
      }
      return out;
    },

    /** Starts partition workflows; one already running for an ID is left as it is. */
    async startPartitionWorkflows(input: {
      partitions: PartitionRef[];
      batchSize?: number;
      idleWaitMs?: number;
      batchesPerActivity?: number;
    }): Promise<void> {
      for (const p of input.partitions) {
        await deps.client.workflow.start('partitionWorkflow', {
          taskQueue: deps.taskQueue,
          workflowId: partitionWorkflowId(p.stream, p.partition, deps.idPrefix),
          workflowIdConflictPolicy: 'USE_EXISTING',
          args: [
            {
              stream: p.stream,
              partition: p.partition,
              batchSize: input.batchSize,
              idleWaitMs: input.idleWaitMs,
              batchesPerActivity: input.batchesPerActivity,
            },
          ],
          typedSearchAttributes: [
            { key: OfpStream, value: p.stream },
            { key: OfpPartition, value: p.partition },
            { key: OfpState, value: 'RUNNING' },
            { key: OfpNextOffset, value: 0 },
          ],
        });
      }
    },

    async pruneRetention(): Promise<{ contributions: number; tiles: number }> {
      const ctx = Context.current();
      const result = await pruneRetention(deps.pool, deps.policy, () => ctx.heartbeat());
      deps.log.info(result, 'retention pruning done');
      return result;
    },
  };
}

export type ProjectorActivities = ReturnType<typeof createActivities>;
