/**
 * Error formatting: every GraphQL error carries `extensions.code` and `extensions.retryable`; parse, validation and
 * variable errors become INVALID_REQUEST (keeping a code a scalar chose); anything unexpected becomes INTERNAL with
 * a generic message. Stack traces never leave the process.
 */
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { GatewayErrorCode, RETRYABLE_CODES } from '../../error-codes';
import { logger } from '../../../logger';

const KNOWN = new Set<string>(Object.values(GatewayErrorCode));
const CLIENT_ERRORS = new Set<string>([
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.BAD_USER_INPUT,
  ApolloServerErrorCode.BAD_REQUEST,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
]);

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const ownCode =
    original instanceof GraphQLError && typeof original.extensions?.code === 'string'
      ? original.extensions.code
      : undefined;
  const given = typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : undefined;
  let code: string;
  let message = formatted.message;
  if (ownCode && KNOWN.has(ownCode)) code = ownCode;
  else if (given && KNOWN.has(given)) code = given;
  else if (given && CLIENT_ERRORS.has(given)) code = GatewayErrorCode.INVALID_REQUEST;
  else {
    code = GatewayErrorCode.INTERNAL;
    logger.error({ err: original, path: formatted.path }, 'unexpected GraphQL error');
    message = 'internal error';
  }
  const { stacktrace: _s, exception: _e, ...rest } = (formatted.extensions ?? {}) as Record<string, unknown>;
  return { ...formatted, message, extensions: { ...rest, code, retryable: RETRYABLE_CODES.has(code) } };
}
