/**
 * The GraphQL fast path: the gateway's hot queries without Apollo's per-request pipeline.
 *
 * Apollo Server spends most of a features request's GraphQL CPU on its request pipeline (query hashing, plugin
 * hooks, document store, content negotiation) and on graphql-js's generic executor. The fast path answers a
 * POST /graphql request itself when its answer is certain to be the one Apollo would give, byte for byte, with the
 * same status and headers:
 * - Apollo would take the HTTP request as it is (request.ts): JSON body with a query string, optional variables
 *   object and operationName string, no extensions, a content type that passes CSRF prevention;
 * - the response content type for its `Accept` header is one Apollo already chose for a successful answer (learned
 *   from Apollo, never negotiated here);
 * - the query text is one Apollo parsed and validated before (this plugin records it after every validation rule
 *   ran: graphql-js's, the depth/cost/alias limits, no introspection when it is off);
 * - the operation is a query graphql-jit runs exactly as graphql-js does (compile.ts);
 * - execution finished without any error (variable coercion included).
 * Anything else goes to Apollo unchanged. A request whose execution had errors is answered by Apollo from the root
 * resolvers' recorded results (root-ledger.ts), so that errors are formatted by Apollo and the error-format plugin
 * and no resolver with side effects runs twice. The resolvers run in both cases: roles, metrics and the features
 * read are theirs.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import { DocumentCache } from './documents';
import { fastPathRequests } from './metrics';
import { operationRequestOf, type FastPathHttpRequest } from './request';
import { prepareRootResolvers, RootLedger, withLedger } from './root-ledger';

export type { FastPathHttpRequest } from './request';
export { RootLedger, withLedger } from './root-ledger';

export interface FastPathOptions {
  /** Validated query texts remembered (the least recently used is forgotten first). Default 64. */
  maxDocuments?: number;
  /** Operations of one document that are compiled; the others stay with Apollo. Default 8. */
  maxOperationsPerDocument?: number;
  /** Longest query text remembered, in UTF-16 code units; longer ones always go to Apollo. Default 10,000. */
  maxQueryLength?: number;
  /** Distinct `Accept` header values whose response content type is remembered. Default 64. */
  maxAcceptValues?: number;
  /** Compilations that may happen back to back (a gateway's start, a new client's queries). Default 16. */
  compilationBurst?: number;
  /** Compilations per second in the long run; past it requests stay with Apollo a while. Default 2 (~1 % of a core). */
  compilationsPerSecond?: number;
}

/** What the fast path did with one request. */
export type FastPathResult =
  /** The complete answer: status 200, this content type, this body. */
  | { answered: true; contentType: string; body: string }
  /**
   * Apollo must answer. When `ledger` is set the root resolvers already ran: Apollo's context must carry it
   * (`withLedger`) so that it takes their results instead of running them again.
   */
  | { answered: false; ledger: RootLedger | undefined };

const DECLINED: FastPathResult = { answered: false, ledger: undefined };

export class GraphQLFastPath {
  private schema: GraphQLSchema | undefined;
  private running = false;
  private readonly documents: DocumentCache;
  /** `Accept` header ('' when absent) → the content type Apollo gave a successful single result for it. */
  private readonly contentTypes = new Map<string, string>();
  private readonly maxAcceptValues: number;

  constructor(options: FastPathOptions = {}) {
    this.documents = new DocumentCache({
      maxDocuments: options.maxDocuments ?? 64,
      maxOperationsPerDocument: options.maxOperationsPerDocument ?? 8,
      maxQueryLength: options.maxQueryLength ?? 10_000,
      compilationBurst: options.compilationBurst ?? 16,
      compilationsPerSecond: options.compilationsPerSecond ?? 2,
    });
    this.maxAcceptValues = options.maxAcceptValues ?? 64;
  }

  /** The Apollo plugin that tells the fast path the schema, the server's state and every validated query text. */
  plugin<TContext extends object>(): ApolloServerPlugin<TContext> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the hooks below are Apollo's, `this` is not ours
    const fast = this;
    return {
      async serverWillStart({ schema }) {
        prepareRootResolvers(schema);
        fast.schema = schema;
        fast.running = true;
        return {
          async serverWillStop() {
            fast.running = false;
          },
        };
      },
      async requestDidStart() {
        return {
          // Apollo calls this only once the document parsed and passed every validation rule.
          async didResolveOperation({ source, document }) {
            fast.documents.learn(source, document);
          },
        };
      },
    };
  }

  /**
   * Records the content type Apollo answered a request with this `Accept` header with. Only successful single
   * results count: Apollo picks their content type from the `Accept` header alone.
   */
  learnContentType(accept: string | undefined, status: number, contentType: string | undefined): void {
    if (status !== 200 || contentType === undefined) return;
    const key = accept ?? '';
    if (this.contentTypes.has(key)) return;
    // Accept headers come from clients: a full table is emptied and refilled by the requests that follow.
    if (this.contentTypes.size >= this.maxAcceptValues) this.contentTypes.clear();
    this.contentTypes.set(key, contentType);
  }

  /**
   * Runs the request if the fast path can give Apollo's exact answer. `context` makes the request's GraphQL
   * context (called at most once). Nothing is written to the client here.
   */
  async execute(req: FastPathHttpRequest, context: () => object): Promise<FastPathResult> {
    const result = await this.tryExecute(req, context);
    fastPathRequests.inc({
      outcome: result.answered ? 'answered' : result.ledger ? 'handed_back' : 'declined',
    });
    return result;
  }

  private async tryExecute(req: FastPathHttpRequest, context: () => object): Promise<FastPathResult> {
    const schema = this.schema;
    if (!this.running || schema === undefined) return DECLINED;
    const contentType = this.contentTypes.get(req.accept ?? '');
    if (contentType === undefined) return DECLINED;
    const operation = operationRequestOf(req);
    if (operation === undefined) return DECLINED;
    const compiled = this.documents.compiled(schema, operation.query, operation.operationName);
    if (compiled === undefined) return DECLINED;
    const ledger = new RootLedger();
    let result: Awaited<ReturnType<typeof compiled.query>>;
    try {
      result = await compiled.query(undefined, withLedger(context(), ledger), operation.variables);
    } catch {
      // graphql-jit reports errors in its result; a throw would be its own bug, and Apollo still answers.
      result = { errors: [] };
    }
    if (result.errors !== undefined) {
      // Refused variables stop graphql-jit before any resolver ran: then there is nothing to replay.
      if (ledger.outcomes.size === 0) return DECLINED;
      ledger.mode = 'replay';
      return { answered: false, ledger };
    }
    let body: string;
    try {
      // What Apollo writes for a single result without errors or extensions (prettyJSONStringify).
      body = `${JSON.stringify({ data: result.data })}\n`;
    } catch {
      // Apollo would fail the same way; let it write that answer. The resolvers ran: replay them, not again.
      ledger.mode = 'replay';
      return { answered: false, ledger };
    }
    return { answered: true, contentType, body };
  }
}
