/**
 * A typed client of the Online Feature Plane for the Decision Fabric: the operations in `features.graphql`,
 * compiled by GraphQL Code Generator (`npm run codegen`) into typed documents in `examples/generated/`, sent with
 * plain `fetch`. Result and variable types come from the documents, so a renamed field or a missing variable is a
 * compile error here rather than a surprise in production.
 *
 *   const result = await fetchDecisionFeatures('http://127.0.0.1:4000/graphql', token, { pins, asOf, keys, groups });
 *   if (result.features.__typename === 'FeatureSnapshot') use(result.features.values);
 *   else if (result.features.retryable) retry(); else reject(result.features.code, result.features.detail);
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode } from 'graphql';
import {
  DecisionFeaturesDocument,
  ProjectorHealthDocument,
  type DecisionFeaturesQuery,
  type DecisionFeaturesQueryVariables,
  type ProjectorHealthQuery,
} from '../generated/graphql';

/** The `features` answer: a snapshot or a domain error (SPEC 5.8), told apart by `__typename`. */
export type DecisionFeaturesResult = DecisionFeaturesQuery['features'];
export type DecisionSnapshot = Extract<DecisionFeaturesResult, { __typename: 'FeatureSnapshot' }>;
export type DecisionFeaturesError = Extract<DecisionFeaturesResult, { __typename: 'FeaturesError' }>;
export type DecisionFeatureEntry = DecisionSnapshot['values'][number];

/** A GraphQL-level failure (authentication, a malformed variable, query limits): no data came back. */
export class GraphQLRequestError extends Error {
  override name = 'GraphQLRequestError';

  constructor(
    readonly status: number,
    readonly errors: { message: string; extensions?: { code?: string; retryable?: boolean } }[],
  ) {
    super(`GraphQL request failed (HTTP ${status}): ${errors.map((e) => e.message).join('; ') || 'no data'}`);
  }

  /** The gateway's `extensions.code` of the first error (UNAUTHENTICATED, INVALID_REQUEST ...). */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }

  get retryable(): boolean {
    return this.errors.length > 0 && this.errors.every((e) => e.extensions?.retryable === true);
  }
}

const printed = new WeakMap<DocumentNode, string>();

/** Sends one typed operation: the result and the variables are the types the document was generated with. */
export async function executeTyped<TResult, TVariables>(
  url: string,
  token: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  options: { signal?: AbortSignal; requestId?: string } = {},
): Promise<TResult> {
  let query = printed.get(document);
  if (query === undefined) printed.set(document, (query = print(document)));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    authorization: `Bearer ${token}`,
  };
  if (options.requestId) headers['x-request-id'] = options.requestId;
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
    signal: options.signal,
  });
  // Every number of these operations is small (seeds and offsets travel as strings), so JSON.parse is exact.
  const body = (await res.json()) as { data?: TResult | null; errors?: GraphQLRequestError['errors'] };
  if (body.errors?.length || body.data === undefined || body.data === null) {
    throw new GraphQLRequestError(res.status, body.errors ?? []);
  }
  return body.data;
}

/**
 * The features of a decision: `url` is the gateway's GraphQL endpoint (`http://host:4000/graphql`), `token` a
 * reader token. Domain errors are returned (as the `FeaturesError` member), GraphQL-level failures are thrown.
 */
export function fetchDecisionFeatures(
  url: string,
  token: string,
  variables: DecisionFeaturesQueryVariables,
  options: { signal?: AbortSignal } = {},
): Promise<DecisionFeaturesQuery> {
  return executeTyped(url, token, DecisionFeaturesDocument, variables, {
    ...options,
    requestId: variables.requestId ?? undefined,
  });
}

/** Projector health, for a DF that degrades gracefully when OFP lags. */
export function fetchProjectorHealth(url: string, token: string): Promise<ProjectorHealthQuery> {
  return executeTyped(url, token, ProjectorHealthDocument, {});
}

/** An entry's values by name (`amount_sum_24h` → `"13.5"`), counts as decimal text, null when missing. */
export function valuesByName(entry: DecisionFeatureEntry): Record<string, string | null> {
  return Object.fromEntries(entry.features.map((f) => [f.name, f.value]));
}
