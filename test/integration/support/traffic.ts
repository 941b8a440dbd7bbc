/** The mix of generated traffic the integration tests share: reordering, copies and every invalid kind. */
export const MIXED_TRAFFIC = {
  partitions: 2,
  runs: 2,
  outOfOrderFraction: 0.05,
  duplicateFraction: 0.03,
  anomalyFraction: 0.01,
  unparseableFraction: 0.005,
  pinsInvalidFraction: 0.005,
  envelopeInvalidFraction: 0.005,
  payloadInvalidFraction: 0.005,
  tooLateFraction: 0.005,
  irrelevantFraction: 0.01,
  progress: false,
} as const;
