/**
 * Compiling one validated operation with graphql-jit, for the operations whose answers graphql-jit gives exactly as
 * graphql-js does. Everything else compiles to `null` and stays with Apollo:
 * - mutations and subscriptions (mutations change state and are rare; they never take the fast path);
 * - any directive (`@skip` / `@include`: graphql-jit had its own bugs there, see its
 *   `useExperimentalPathBasedSkipInclude` option; `@defer` / `@stream` are Apollo's incremental delivery);
 * - introspection fields (`__schema`, `__type`): rare, and Apollo's introspection setting must decide them;
 * - a variable nested inside a literal argument value (`keys: [{keyType: $t, keyId: "1"}]`): when such a variable
 *   is not provided, graphql-js leaves the field out while graphql-jit sets it to null.
 * Variables passed whole (`keys: $keys`) are coerced by graphql-jit exactly as graphql-js coerces them, or refused
 * where graphql-js accepts (a non-null variable with a default and no value), which only sends the request to Apollo.
 */
import {
  BREAK,
  getOperationAST,
  Kind,
  visit,
  type ASTNode,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/** Whether graphql-jit's answers to this document's operations are graphql-js's (see the module comment). */
export function isEligibleDocument(document: DocumentNode): boolean {
  let eligible = true;
  /** Depth inside literal object or list values of arguments (where a variable must not appear). */
  let literalDepth = 0;
  const refuse = () => {
    eligible = false;
    return BREAK;
  };
  visit(document, {
    enter(node: ASTNode) {
      switch (node.kind) {
        case Kind.DIRECTIVE:
          return refuse();
        case Kind.FIELD:
          if (node.name.value === '__schema' || node.name.value === '__type') return refuse();
          return undefined;
        case Kind.OBJECT:
        case Kind.LIST:
          literalDepth++;
          return undefined;
        case Kind.VARIABLE:
          // A variable definition's own name is a Variable node too, never inside a literal.
          return literalDepth > 0 ? refuse() : undefined;
        default:
          return undefined;
      }
    },
    leave(node: ASTNode) {
      if (node.kind === Kind.OBJECT || node.kind === Kind.LIST) literalDepth--;
    },
  });
  return eligible;
}

/**
 * The operation Apollo (graphql-js's getOperationAST) would run for this operation name, or undefined where Apollo
 * answers with an error (no such operation; several operations and no name).
 */
export function selectOperation(
  document: DocumentNode,
  operationName: string | undefined,
): OperationDefinitionNode | undefined {
  return getOperationAST(document, operationName) ?? undefined;
}

/** The compiled query for one query operation, or null when the fast path must leave it to Apollo. */
export function compileOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): CompiledQuery | null {
  if (operation.operation !== 'query') return null;
  const compiled = compileQuery(schema, document, operation.name?.value, {
    // Errors never leave the fast path (Apollo answers those requests), so their stacks are not worth capturing.
    disablingCapturingStackErrors: true,
  });
  return isCompiledQuery(compiled) ? compiled : null;
}
