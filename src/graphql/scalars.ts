/** The `DateTime` scalar: exactly `YYYY-MM-DDTHH:MM:SS.ffffffZ` naming a real instant (SPEC 6). */
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { MAX_TIMESTAMP, MIN_TIMESTAMP, parseTimestamp } from '../core/time';
import { GatewayErrorCode } from './error-codes';

function check(value: unknown): string {
  if (typeof value !== 'string' || parseTimestamp(value) === null) {
    throw new GraphQLError(
      `DateTime must be a real instant written YYYY-MM-DDTHH:MM:SS.ffffffZ from ${MIN_TIMESTAMP} to ${MAX_TIMESTAMP}, got ${JSON.stringify(value)}`,
      {
        extensions: { code: GatewayErrorCode.INVALID_REQUEST, retryable: false },
      },
    );
  }
  return value;
}

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'UTC instant with microseconds: YYYY-MM-DDTHH:MM:SS.ffffffZ',
  serialize: (v) => check(v),
  parseValue: (v) => check(v),
  parseLiteral: (ast) => check(ast.kind === Kind.STRING ? ast.value : undefined),
});
