/**
 * What the gateway's transports (GraphQL, the platform contract endpoint) call: features, health, policy and
 * partition control. Transport-independent, so both transports answer from one implementation.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import type { EventBus } from '../bus/event-bus';
import { describePolicy, streamsOf, type FeaturePolicy } from '../core/policy';
import { snapshotHash } from '../core/snapshot';
import { formatTimestamp } from '../core/time';
import type { Pool } from '../db/pool';
import type { FeaturesErrorModel, PartitionHealthModel, SnapshotModel } from '../graphql/models';
import { servingMetrics } from '../metrics/serving-metrics';
import {
  partitionWorkflowId,
  pauseUpdate,
  resumeUpdate,
  retryUpdate,
  skipUpdate,
  type PartitionStatus,
} from '../workflows/messages';
import { FeaturesRequestError } from './errors';
import { FeatureReader, type FeatureReaderOptions } from './feature-reader';
import { isLagging } from './posture';
import { validateRequest, type FeatureRequestInput } from './request';

export type ControlAction = 'pause' | 'resume' | 'skip' | 'retry';

export interface HealthModel {
  state: 'GREEN' | 'AMBER' | 'RED';
  reasons: string[];
  policyRevision: string;
  partitions: PartitionHealthModel[];
}

export class GatewayUnavailableError extends Error {
  override name = 'GatewayUnavailableError';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** What node-postgres (pg, pg-pool) says when the connection itself failed rather than the statement. */
const PG_CONNECTION_MESSAGE =
  /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect|Query read timeout)/;

/**
 * The SPEC 5.8 wording of a PostgreSQL failure that escaped the read path's own mapping (the min-basis wait of SPEC
 * 5.7 polls the checkpoints outside it), or undefined for any other error. Connection failures (a network error, a
 * SQLSTATE of class 08 or 57P, pg's own connection messages) are "database unreachable"; an error the server
 * reported is "basis unreadable".
 */
function databaseFailure(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (
    NETWORK_CODES.has(code) ||
    /^(08|57P)/.test(code) ||
    PG_CONNECTION_MESSAGE.test(String(e.message ?? ''))
  )
    return 'database unreachable';
  if (err instanceof pg.DatabaseError) return 'basis unreadable';
  return undefined;
}

export class Gateway {
  private readonly reader: FeatureReader;

  constructor(
    readonly pool: Pool,
    readonly policy: FeaturePolicy,
    readonly bus: EventBus,
    private readonly temporal: Client | undefined,
    private readonly idPrefix?: string,
    readerOptions: FeatureReaderOptions = {},
  ) {
    this.reader = new FeatureReader(pool, policy, bus.offsetKind, readerOptions);
  }

  async features(
    input: FeatureRequestInput,
    transport: 'graphql' | 'http',
  ): Promise<SnapshotModel | FeaturesErrorModel> {
    const started = process.hrtime.bigint();
    const requestId = input.requestId || randomUUID();
    try {
      const req = validateRequest(input, this.policy);
      const { content, posture } = await this.reader.read(req);
      servingMetrics.latency.observe(
        { transport, outcome: 'ok' },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
      return {
        content,
        posture,
        snapshotHash: snapshotHash(content),
        createdAt: formatTimestamp(Date.now() * 1000),
        requestId,
      };
    } catch (err) {
      // A database failure is UNAVAILABLE (retryable) wherever it happens: a connection cut while a request waited
      // for its minimum basis used to answer MISSING_PROVENANCE. MISSING_PROVENANCE stays for answers that could
      // not be completed for another reason.
      const dbFailure = databaseFailure(err);
      const e =
        err instanceof FeaturesRequestError
          ? err
          : dbFailure !== undefined
            ? new FeaturesRequestError('UNAVAILABLE', `${dbFailure}: ${(err as Error).message}`, {
                cause: err,
              })
            : new FeaturesRequestError(
                'MISSING_PROVENANCE',
                `answer could not be completed: ${(err as Error).message}`,
              );
      servingMetrics.errors.inc({ transport, code: e.code });
      servingMetrics.latency.observe(
        { transport, outcome: 'error' },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
      return { code: e.code, retryable: e.retryable, detail: e.detail, requestId };
    }
  }

  describePolicy() {
    return describePolicy(this.policy);
  }

  /** Per-partition status of every stream the policy reads, with live bus ends. */
  async partitions(stream?: string): Promise<PartitionHealthModel[]> {
    const streams = stream ? [stream] : streamsOf(this.policy.groups);
    const { rows } = await this.pool.query(
      `SELECT stream, partition, next_offset, state, end_offset, end_ts_us, last_applied_ts_us, quarantined, applied,
              duplicates, irrelevant, stalled_offset, stalled_class, stalled_reason
         FROM checkpoints WHERE stream = ANY($1::text[]) ORDER BY stream, partition`,
      [streams],
    );
    return Promise.all(
      rows.map(async (r): Promise<PartitionHealthModel> => {
        const end = Math.max(r.end_offset, await this.bus.endOffset(r.stream, r.partition));
        const lagRecords = Math.max(0, end - r.next_offset);
        return {
          stream: r.stream,
          partition: r.partition,
          nextOffset: r.next_offset,
          endOffset: end,
          lagRecords,
          lagSeconds:
            lagRecords === 0
              ? 0
              : r.end_ts_us !== null && r.last_applied_ts_us !== null
                ? Math.max(0, (r.end_ts_us - r.last_applied_ts_us) / 1e6)
                : null,
          state: r.state,
          quarantined: r.quarantined,
          applied: r.applied,
          duplicates: r.duplicates,
          irrelevant: r.irrelevant,
          stalledOffset: r.stalled_offset,
          stalledClass: r.stalled_class,
          stalledReason: r.stalled_reason,
        };
      }),
    );
  }

  async health(): Promise<HealthModel> {
    let partitions: PartitionHealthModel[];
    try {
      partitions = await this.partitions();
    } catch (err) {
      return {
        state: 'RED',
        reasons: [`database unreachable: ${(err as Error).message}`],
        policyRevision: this.policy.revision,
        partitions: [],
      };
    }
    const reasons: string[] = [];
    let state: HealthModel['state'] = 'GREEN';
    const worsen = (s: HealthModel['state']) => {
      if (s === 'RED' || (s === 'AMBER' && state === 'GREEN')) state = s;
    };
    if (partitions.length === 0) {
      worsen('AMBER');
      reasons.push('no partition is being projected yet');
    }
    for (const p of partitions) {
      const at = `${p.stream}/${p.partition}`;
      if (p.state === 'STALLED') {
        worsen('RED');
        reasons.push(`${at} STALLED at offset ${p.stalledOffset} (${p.stalledClass}: ${p.stalledReason})`);
      } else if (p.state === 'PAUSED') {
        worsen('AMBER');
        reasons.push(`${at} PAUSED by an operator`);
      }
      if (isLagging({ ...p })) {
        worsen('AMBER');
        reasons.push(`${at} lagging: ${p.lagRecords} records, ${p.lagSeconds ?? '?'} s of event time`);
      }
    }
    return { state, reasons, policyRevision: this.policy.revision, partitions };
  }

  /** Acts through the partition workflow's Temporal update, so the workflow and the database agree. */
  async control(stream: string, partition: number, action: ControlAction): Promise<PartitionStatus> {
    if (!this.temporal) throw new GatewayUnavailableError('Temporal is not connected to this gateway');
    const handle = this.temporal.workflow.getHandle(partitionWorkflowId(stream, partition, this.idPrefix));
    const update = { pause: pauseUpdate, resume: resumeUpdate, skip: skipUpdate, retry: retryUpdate }[action];
    return handle.executeUpdate(update);
  }

  /** Ready when the policy is loaded (it is, or we would not exist) and the database answers. */
  async ready(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }
}
