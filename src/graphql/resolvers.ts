/** GraphQL resolvers: thin mapping from the gateway services to the public schema. */
import { GraphQLError } from 'graphql';
import { featureValueText } from '../core/snapshot';
import type { PartitionHealthModel } from './models';
import type { Resolvers } from './generated/resolvers-types';
import { DateTimeScalar } from './scalars';
import { GatewayErrorCode } from './error-codes';
import type { GatewayContext } from './context';
import type { ControlAction } from '../serving/gateway-services';

function requireOperator(ctx: GatewayContext): void {
  if (ctx.role !== 'operator') {
    throw new GraphQLError('this mutation needs an operator token', {
      extensions: { code: GatewayErrorCode.FORBIDDEN, retryable: false },
    });
  }
}

async function control(ctx: GatewayContext, stream: string, partition: number, action: ControlAction) {
  requireOperator(ctx);
  try {
    const s = await ctx.services.control(stream, partition, action);
    return {
      stream: s.stream,
      partition: s.partition,
      state: s.state,
      nextOffset: String(s.nextOffset),
      stalledOffset: s.stalled ? String(s.stalled.offset) : null,
    };
  } catch (err) {
    const refused = controlRefusal(err);
    if (refused !== undefined) {
      throw new GraphQLError(`${action} ${stream}/${partition} refused: ${refused}`, {
        extensions: { code: GatewayErrorCode.FAILED_PRECONDITION, retryable: false },
      });
    }
    const message = (err as Error).message;
    const notFound = /not found|NotFound/i.test(message);
    throw new GraphQLError(`${action} ${stream}/${partition} failed: ${message}`, {
      extensions: {
        code: notFound ? GatewayErrorCode.INVALID_REQUEST : GatewayErrorCode.UNAVAILABLE,
        retryable: !notFound,
      },
    });
  }
}

/**
 * The message of a PartitionControlError somewhere in a failed update's cause chain (update failure → activity
 * failure → application failure of that type), or undefined when the update failed for another reason.
 */
function controlRefusal(err: unknown): string | undefined {
  for (let e = err as { cause?: unknown; type?: unknown; message?: string } | undefined; e;) {
    if (e.type === 'PartitionControlError') return e.message;
    e = e.cause as typeof e;
  }
  return undefined;
}

const partitionHealth = {
  nextOffset: (p: PartitionHealthModel) => String(p.nextOffset),
  endOffset: (p: PartitionHealthModel) => String(p.endOffset),
  stalledOffset: (p: PartitionHealthModel) => (p.stalledOffset === null ? null : String(p.stalledOffset)),
};

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Query: {
    features: async (_root, args, ctx) => {
      const result = await ctx.services.features(
        {
          pins: args.pins,
          asOf: args.asOf,
          keys: args.keys,
          groups: args.groups,
          minBasis: args.minBasis,
          waitMs: args.waitMs,
          requestId: args.requestId ?? ctx.requestId,
        },
        'graphql',
      );
      return 'code' in result
        ? { __typename: 'FeaturesError', ...result }
        : { __typename: 'FeatureSnapshot', ...result };
    },
    health: (_root, _args, ctx) => ctx.services.health(),
    featurePolicy: (_root, _args, ctx) => ctx.services.describePolicy(),
    partitions: (_root, args, ctx) => ctx.services.partitions(args.stream ?? undefined),
  },
  Mutation: {
    pausePartition: (_root, a, ctx) => control(ctx, a.stream, a.partition, 'pause'),
    resumePartition: (_root, a, ctx) => control(ctx, a.stream, a.partition, 'resume'),
    skipStalledRecord: (_root, a, ctx) => control(ctx, a.stream, a.partition, 'skip'),
    retryStalledRecord: (_root, a, ctx) => control(ctx, a.stream, a.partition, 'retry'),
  },
  FeaturesResult: {
    __resolveType: (obj) => obj.__typename,
  },
  FeatureSnapshot: {
    snapshotHash: (s) => s.snapshotHash,
    asOf: (s) => s.content.asOfUtc,
    createdAt: (s) => s.createdAt,
    requestId: (s) => s.requestId,
    pins: (s) => ({ ...s.content.pins, runId: s.content.pins.runId ?? null }),
    policyRev: (s) => s.content.policyRev,
    featureGroups: (s) => s.content.featureGroups,
    inputBasis: (s) => s.content.inputBasis,
    graphVersion: (s) => s.content.graphVersion,
    freshness: (s) => s.content.freshness,
    posture: (s) => s.posture,
    values: (s) =>
      s.content.features.map((e) => ({
        ...e,
        features: e.values.map((v) => ({ name: v.name, value: featureValueText(v.value) })),
      })),
  },
  PartitionHealth: partitionHealth,
  Health: {},
};
