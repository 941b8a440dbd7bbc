/**
 * The parameters of the batched read: series numbered across the batch, and windows that stay exact at the ends of
 * the representable time range.
 */
import path from 'node:path';
import { loadPolicyFile } from '../../src/core/policy-file';
import { findGroup } from '../../src/core/policy';
import { MAX_TIMESTAMP, MIN_TIMESTAMP, parseTimestamp } from '../../src/core/time';
import { windowRange } from '../../src/core/windows';
import { readParams, type ReadPart } from '../../src/serving/read-statement';

const policy = loadPolicyFile(path.resolve(__dirname, '../../config/features.yaml'));
const merchants = findGroup(policy, 'merchant_velocity', 'v1')!;

function part(asOf: string, keyIds: string[], runKey = 'run-a'): ReadPart {
  return {
    runKey,
    streams: ['fp.bus.context.flow_anchor.fraud.v1'],
    asOf: parseTimestamp(asOf)!,
    series: keyIds.map((keyId, entry) => ({ entry, group: merchants, keyId, field: 'amount' })),
  };
}

describe('readParams', () => {
  it('numbers the series of a batch in request order and says where each request starts', () => {
    const { values, first } = readParams([
      part('2026-02-06T17:05:00.123456Z', ['1', '2']),
      part('2026-02-07T00:00:00.000000Z', ['2'], 'run-b'),
      part('2026-02-06T17:05:00.123456Z', ['3', '4', '5']),
    ]);
    expect(first).toEqual([0, 2, 3]);
    expect(values[0]).toBe('{"run-a","run-b"}');
    expect(values[2]).toBe('{0,1,2,3,4,5}');
    expect(values[3]).toBe('{"run-a","run-a","run-b","run-a","run-a","run-a"}');
    expect(values[6]).toBe('{"1","2","2","3","4","5"}');
  });

  it.each([MIN_TIMESTAMP, MAX_TIMESTAMP])(
    'reads windows ending at %s exactly (no window starts before time)',
    (asOf) => {
      expect(() => readParams([part(asOf, ['1'])])).not.toThrow();
      for (const w of merchants.windows) {
        const { lo, hi } = windowRange(parseTimestamp(asOf)!, w.micros);
        expect(lo).toBeGreaterThanOrEqual(Number.MIN_SAFE_INTEGER);
        expect(hi - lo).toBeLessThanOrEqual(w.micros);
      }
    },
  );
});
