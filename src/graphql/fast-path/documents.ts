/**
 * The query texts Apollo has validated, with their parsed documents and, once asked for, their compiled operations.
 * All of it is sent by clients, so it is bounded: at most `maxDocuments` texts of at most `maxQueryLength`
 * characters, the least recently used forgotten first (a client's hot query, asked for constantly, stays; a flood
 * of one-off queries only pushes out other one-off queries).
 *
 * Compiling costs CPU (4 to 5 ms for the SPEC 7 features query, measured by bench/graphql.bench.ts), far more than
 * Apollo's parse and validation of the same text. So an operation is compiled the first time the fast path is asked
 * for it (a text sent once never costs a compilation), and compilations draw on a budget: a client cycling through
 * many distinct queries cannot make the gateway spend more than about 1 % of a core compiling (at the default
 * budget); past it, requests simply stay with Apollo until it refills.
 */
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { CompiledQuery } from 'graphql-jit';
import { compileOperation, isEligibleDocument, selectOperation } from './compile';

interface KnownDocument {
  document: DocumentNode;
  /** Compiled operations (null: left to Apollo), by operation node: at most one per operation in the document. */
  compiled: Map<OperationDefinitionNode, CompiledQuery | null>;
}

export interface DocumentCacheLimits {
  maxDocuments: number;
  /** Operations compiled per document: a document may name hundreds, each compiled one costs memory. */
  maxOperationsPerDocument: number;
  maxQueryLength: number;
  /** Compilations that may happen back to back. */
  compilationBurst: number;
  /** Compilations per second in the long run. */
  compilationsPerSecond: number;
}

/** A token bucket: `take()` is true at most `burst` times at once and `perSecond` times a second over time. */
class CompilationBudget {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class DocumentCache {
  /** In least-recently-used-first order (a Map iterates in insertion order; a hit re-inserts its entry). */
  private readonly documents = new Map<string, KnownDocument>();

  private readonly budget: CompilationBudget;

  constructor(private readonly limits: DocumentCacheLimits) {
    this.budget = new CompilationBudget(limits.compilationBurst, limits.compilationsPerSecond);
  }

  get size(): number {
    return this.documents.size;
  }

  /** Records a query text Apollo parsed and validated (every validation rule passed). */
  learn(query: string, document: DocumentNode): void {
    if (query.length > this.limits.maxQueryLength || this.documents.has(query)) return;
    // Documents the fast path would never run are not worth a slot.
    if (!isEligibleDocument(document)) return;
    if (this.documents.size >= this.limits.maxDocuments) {
      const oldest = this.documents.keys().next().value as string;
      this.documents.delete(oldest);
    }
    this.documents.set(query, { document, compiled: new Map() });
  }

  /**
   * The compiled operation to run for this query text and operation name, or undefined when the text was never
   * validated (or was forgotten) or the operation is not one the fast path runs.
   */
  compiled(
    schema: GraphQLSchema,
    query: string,
    operationName: string | undefined,
  ): CompiledQuery | undefined {
    const known = this.documents.get(query);
    if (known === undefined) return undefined;
    this.documents.delete(query);
    this.documents.set(query, known);
    const operation = selectOperation(known.document, operationName);
    if (operation === undefined) return undefined;
    let compiled = known.compiled.get(operation);
    if (compiled === undefined) {
      if (known.compiled.size >= this.limits.maxOperationsPerDocument || !this.budget.take())
        return undefined;
      compiled = compileOperation(schema, known.document, operation);
      known.compiled.set(operation, compiled);
    }
    return compiled ?? undefined;
  }
}
