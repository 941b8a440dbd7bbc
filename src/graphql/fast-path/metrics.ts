/** How GraphQL requests went through the fast path: whether it is taking the traffic it was built for. */
import client from 'prom-client';

export type FastPathOutcome =
  /** Answered by the fast path. */
  | 'answered'
  /** Not one the fast path runs (unknown query text, mutation, directive, other content type...): Apollo answered. */
  | 'declined'
  /** Executed, but the result had errors: Apollo answered it from the recorded root results (root-ledger.ts). */
  | 'handed_back';

export const fastPathRequests = new client.Counter({
  name: 'ofp_graphql_fast_path_requests_total',
  help: 'POST /graphql requests by what the GraphQL fast path did with them',
  labelNames: ['outcome'] as const,
});
