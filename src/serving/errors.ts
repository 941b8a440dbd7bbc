/** Domain errors of `features` (SPEC 5.8): a code, whether a retry can help, and a detail naming the field. */
export const FEATURES_ERROR_CODES = [
  'MISSING_PINS',
  'INVALID_REQUEST',
  'NOT_FOUND',
  'UNAVAILABLE',
  'MISSING_PROVENANCE',
] as const;
export type FeaturesErrorCode = (typeof FEATURES_ERROR_CODES)[number];

const RETRYABLE: Record<FeaturesErrorCode, boolean> = {
  MISSING_PINS: false,
  INVALID_REQUEST: false,
  NOT_FOUND: false,
  UNAVAILABLE: true,
  MISSING_PROVENANCE: true,
};

export class FeaturesRequestError extends Error {
  override name = 'FeaturesRequestError';
  readonly retryable: boolean;

  constructor(
    readonly code: FeaturesErrorCode,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail}`, options);
    this.retryable = RETRYABLE[code];
  }
}

export const missingPins = (detail: string) => new FeaturesRequestError('MISSING_PINS', detail);
export const invalidRequest = (detail: string) => new FeaturesRequestError('INVALID_REQUEST', detail);
export const unavailable = (detail: string, cause?: unknown) =>
  new FeaturesRequestError('UNAVAILABLE', detail, { cause });
