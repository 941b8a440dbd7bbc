/** Error codes surfaced in GraphQL `extensions.code` for errors outside the `FeaturesError` union member. */
export enum GatewayErrorCode {
  /** A variable or literal rejected while parsing (for example a malformed DateTime). */
  INVALID_REQUEST = 'INVALID_REQUEST',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  /** An operator action the partition's state does not allow (skip when nothing is stalled, resume when running). */
  FAILED_PRECONDITION = 'FAILED_PRECONDITION',
  UNAVAILABLE = 'UNAVAILABLE',
  INTERNAL = 'INTERNAL',
}

/** Whether a client may retry an error of this code as it is. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([GatewayErrorCode.UNAVAILABLE]);
