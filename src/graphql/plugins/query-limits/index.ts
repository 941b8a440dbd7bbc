/**
 * Depth and cost limits as validation rules: an oversized or too deep query is refused before execution with
 * `extensions.code` INVALID_REQUEST. Cost counts every field selection, fragments expanded, lists not multiplied
 * (list sizes are bounded by the request limits of SPEC 5.8 instead).
 */
import {
  GraphQLError,
  Kind,
  type ASTNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { GatewayErrorCode } from '../../error-codes';

export interface QueryLimits {
  /** Deepest selection allowed. Default 12. */
  maxDepth?: number;
  /** Most field selections in one operation. Default 500. */
  maxCost?: number;
  /** Most aliases in one operation (alias flooding). Default 30. */
  maxAliases?: number;
}

/**
 * Walks an operation with fragments expanded. Stops as soon as a limit is exceeded: fragments that spread another
 * fragment twice expand exponentially (30 such fragments fit in 1 KB and would take minutes to walk in full), so the
 * work is bounded by the limits, not by the expanded size.
 */
function measure(
  set: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  depth: number,
  seen: Set<string>,
  acc: { depth: number; cost: number; aliases: number },
  max: { depth: number; cost: number },
): void {
  acc.depth = Math.max(acc.depth, depth);
  for (const sel of set.selections) {
    if (acc.depth > max.depth || acc.cost > max.cost) return;
    if (sel.kind === Kind.FIELD) {
      acc.cost++;
      if (sel.alias) acc.aliases++;
      if (sel.selectionSet) measure(sel.selectionSet, fragments, depth + 1, seen, acc, max);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      measure(sel.selectionSet, fragments, depth, seen, acc, max);
    } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
      const frag = fragments[sel.name.value];
      if (frag && !seen.has(sel.name.value)) {
        seen.add(sel.name.value); // fragment cycles are reported by graphql-js's own rule
        measure(frag.selectionSet, fragments, depth, seen, acc, max);
        seen.delete(sel.name.value);
      }
    }
  }
}

export function queryLimitsRule(limits: QueryLimits = {}): ValidationRule {
  const maxDepth = limits.maxDepth ?? 12;
  const maxCost = limits.maxCost ?? 500;
  const maxAliases = limits.maxAliases ?? 30;
  return (context: ValidationContext) => {
    const doc = context.getDocument();
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const def of doc.definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
    const fail = (message: string, node: ASTNode) =>
      context.reportError(
        new GraphQLError(message, {
          nodes: [node],
          extensions: { code: GatewayErrorCode.INVALID_REQUEST, retryable: false },
        }),
      );
    return {
      OperationDefinition(op) {
        const acc = { depth: 0, cost: 0, aliases: 0 };
        measure(op.selectionSet, fragments, 1, new Set(), acc, { depth: maxDepth, cost: maxCost });
        // The walk stops at the first limit exceeded, so the messages name the limit, not the full size.
        if (acc.depth > maxDepth) fail(`query depth exceeds the limit of ${maxDepth}`, op);
        else if (acc.cost > maxCost) fail(`query selects more fields than the limit of ${maxCost}`, op);
        if (acc.aliases > maxAliases)
          fail(`query uses ${acc.aliases} aliases, more than the limit of ${maxAliases}`, op);
      },
    };
  };
}
