/** The Apollo Server instance: schema from schema.graphql, resolvers, limits and error formatting. */
import fs from 'node:fs';
import path from 'node:path';
import { ApolloServer } from '@apollo/server';
import { projectRoot } from '../runtime/project-root';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GatewayContext } from './context';
import { resolvers } from './resolvers';
import { formatError } from './plugins/error-format';
import { queryLimitsRule, type QueryLimits } from './plugins/query-limits';
import type { GraphQLFastPath } from './fast-path';

export const SCHEMA_PATH = path.join(projectRoot(), 'schema.graphql');

export interface ApolloOptions {
  /** Whether introspection is allowed. Default true (OFP_INTROSPECTION=false turns it off). */
  introspection?: boolean;
  limits?: QueryLimits;
  /**
   * The fast path to feed with validated queries (its plugin is installed); the HTTP server must then be given the
   * same instance. Default none: every request goes through Apollo.
   */
  fastPath?: GraphQLFastPath;
}

export function createApollo(options: ApolloOptions = {}): ApolloServer<GatewayContext> {
  return new ApolloServer<GatewayContext>({
    typeDefs: fs.readFileSync(SCHEMA_PATH, 'utf8'),
    resolvers,
    introspection: options.introspection ?? true,
    validationRules: [queryLimitsRule(options.limits)],
    formatError,
    includeStacktraceInErrorResponses: false,
    // GraphiQL is served by the gateway itself from local files (no CDN here); answers are never HTTP-cached (each
    // carries its own basis), so the per-field cache-control bookkeeping is pure overhead.
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      ...(options.fastPath ? [options.fastPath.plugin<GatewayContext>()] : []),
    ],
  });
}
