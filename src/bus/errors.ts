/** Typed errors of the bus adapters. */

/**
 * A partition's history changed below an offset that was already read: the file got shorter than a known position,
 * or a known line boundary no longer holds. Returning records would hand out different data under offsets that
 * consumers may already have checkpointed, so the bus refuses instead; an operator must decide what to do.
 */
export class BusHistoryRewrittenError extends Error {
  override name = 'BusHistoryRewrittenError';

  constructor(
    readonly stream: string,
    readonly partition: number,
    /** The earliest offset whose known content or position can no longer be vouched for. */
    readonly offset: number,
    detail: string,
  ) {
    super(`bus history rewritten: ${stream} partition ${partition} below offset ${offset}: ${detail}`);
  }
}

/** An operation on a bus after `close()`. */
export class BusClosedError extends Error {
  override name = 'BusClosedError';
}
