/**
 * Root resolvers run once per request, even when the fast path hands a request back to Apollo after executing it.
 *
 * The gateway's root resolvers are where its side effects live: the features read (a database round trip, the
 * `ofp_serve_seconds` / `ofp_serve_errors_total` observations), health and partitions reads. The fast path runs
 * them, and when its result carries any error it does not answer: Apollo must write that answer, so that error
 * formatting, status codes and the error-format plugin stay Apollo's. Re-running the resolvers for that would count
 * every metric twice and double the database load exactly when something is failing. Instead the fast path records
 * what each root resolver returned (or threw) in a ledger carried by the request's context, and Apollo's execution
 * of the same request takes those outcomes instead of calling the resolvers again. Below the root, resolvers are
 * pure mappings of the root results and simply run again.
 */
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';

/** What one root resolver did, by response key (the alias, else the field name). */
type Outcome = { threw: false; value: unknown } | { threw: true; error: unknown };

export class RootLedger {
  /** 'record' while the fast path executes, 'replay' while Apollo executes the same request. */
  mode: 'record' | 'replay' = 'record';
  readonly outcomes = new Map<string, Outcome>();
}

/** The context property the ledger travels in (a symbol: no clash with the gateway's own context fields). */
const LEDGER = Symbol('ofp.fastPath.rootLedger');

/** The context with `ledger` attached; Apollo's shallow copy of the context keeps it (own enumerable symbol). */
export function withLedger<T extends object>(context: T, ledger: RootLedger): T {
  return Object.assign(context, { [LEDGER]: ledger });
}

function ledgerOf(context: unknown): RootLedger | undefined {
  return typeof context === 'object' && context !== null
    ? (context as { [LEDGER]?: RootLedger })[LEDGER]
    : undefined;
}

const prepared = new WeakSet<GraphQLSchema>();

/**
 * Wraps the query root's resolvers once per schema: without a ledger in the context they behave exactly as before
 * (one property read more). Fields without a resolver (graphql-js's default property read) have no side effect and
 * are left alone.
 */
export function prepareRootResolvers(schema: GraphQLSchema): void {
  if (prepared.has(schema)) return;
  prepared.add(schema);
  const query = schema.getQueryType();
  if (!query) return;
  for (const field of Object.values(query.getFields())) {
    const resolve: GraphQLFieldResolver<unknown, unknown> | undefined = field.resolve;
    if (!resolve) continue;
    field.resolve = (source, args, context, info) => {
      const ledger = ledgerOf(context);
      if (ledger === undefined) return resolve(source, args, context, info);
      const key = String(info.path.key);
      if (ledger.mode === 'replay') {
        const outcome = ledger.outcomes.get(key);
        if (outcome !== undefined) {
          if (outcome.threw) throw outcome.error;
          return outcome.value;
        }
        return resolve(source, args, context, info);
      }
      try {
        const value = resolve(source, args, context, info);
        ledger.outcomes.set(key, { threw: false, value });
        return value;
      } catch (error) {
        ledger.outcomes.set(key, { threw: true, error });
        throw error;
      }
    };
  }
}
