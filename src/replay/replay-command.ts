/**
 * `ofp replay`: reproduces one answer from the file bus alone. Parses the request arguments and the basis, checks
 * that the basis fits the groups and the bus, replays, and returns the answer (a snapshot and its hash, or the
 * domain error the gateway would have answered).
 */
import type { EventBus } from '../bus/event-bus';
import type { RecordParser } from '../core/envelope';
import type { FeaturePolicy } from '../core/policy';
import { canonicalJson } from '../core/json';
import { snapshotHash, snapshotHashDocument } from '../core/snapshot';
import { FeaturesRequestError } from '../serving/errors';
import { validateRequest } from '../serving/request';
import { checkBasisForGroups, parseBasisArg } from './basis-arg';
import type { AnswerOutcome } from './diff';
import { toGraphqlSnapshot } from './graphql-answer';
import { answerFromReplay, replayBus } from './replay';
import { parseGroupsArg, parseKeysArg, parsePinsArg } from './request-args';

export interface ReplayCommandArgs {
  pins: string;
  asOf: string;
  keys: string;
  groups: string;
  basis: string;
}

export interface ReplayCommandDeps {
  bus: EventBus;
  policy: FeaturePolicy;
  parser: RecordParser;
  workers?: number;
  onProgress?: (records: number, total: number) => void;
}

/**
 * Replays the bus for one request. Malformed arguments and a basis that does not fit throw (BasisArgError,
 * RequestArgError, ReplayBasisError) with a one-line message; a request the gateway would refuse comes back as an
 * error outcome, like the gateway's answer.
 */
export async function replayCommand(
  args: ReplayCommandArgs,
  deps: ReplayCommandDeps,
): Promise<AnswerOutcome> {
  const input = {
    pins: parsePinsArg(args.pins),
    asOf: args.asOf,
    keys: parseKeysArg(args.keys),
    groups: parseGroupsArg(args.groups),
  };
  const basis = parseBasisArg(args.basis, deps.bus.offsetKind);
  let req;
  try {
    req = validateRequest(input, deps.policy);
  } catch (err) {
    if (err instanceof FeaturesRequestError) return { kind: 'error', code: err.code, detail: err.detail };
    throw err;
  }
  checkBasisForGroups(basis, req.groups);
  const total = basis.reduce((s, b) => s + b.offsets.reduce((x, o) => x + Number(o.offset), 0), 0);
  const state = await replayBus(deps.bus, deps.policy, deps.parser, basis, {
    workers: deps.workers ?? 0,
    onProgress: (n) => deps.onProgress?.(n, total),
  });
  try {
    const content = answerFromReplay(state, deps.policy, req, basis);
    return { kind: 'snapshot', content, snapshotHash: snapshotHash(content) };
  } catch (err) {
    if (err instanceof FeaturesRequestError) return { kind: 'error', code: err.code, detail: err.detail };
    throw err;
  }
}

export type ReplayOutputFormat = 'document' | 'graphql' | 'canonical';

/**
 * The printed answer. `document` (default): `{snapshotHash, snapshot}` with the section-6 document that is hashed;
 * `graphql`: the FeatureSnapshot as the gateway returns it; `canonical`: the JCS text on one line, then the hash.
 * An error prints as the GraphQL FeaturesError member.
 */
export function formatReplayOutcome(outcome: AnswerOutcome, format: ReplayOutputFormat = 'document'): string {
  if (outcome.kind === 'error') {
    const retryable = outcome.code === 'UNAVAILABLE' || outcome.code === 'MISSING_PROVENANCE';
    return JSON.stringify(
      { __typename: 'FeaturesError', code: outcome.code, retryable, detail: outcome.detail },
      null,
      2,
    );
  }
  switch (format) {
    case 'canonical':
      return `${canonicalJson(snapshotHashDocument(outcome.content))}\n${outcome.snapshotHash}`;
    case 'graphql':
      return JSON.stringify(toGraphqlSnapshot(outcome.content, outcome.snapshotHash), null, 2);
    default:
      return JSON.stringify(
        { snapshotHash: outcome.snapshotHash, snapshot: snapshotHashDocument(outcome.content) },
        null,
        2,
      );
  }
}
