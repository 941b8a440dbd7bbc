/** The `--basis` argument of `ofp replay`: JSON in the forms answers print, or stream:partition=offset pairs. */
import path from 'node:path';
import { loadPolicyFile } from '../../src/core/policy-file';
import {
  BasisArgError,
  checkBasisForGroups,
  formatBasisPairs,
  parseBasisArg,
} from '../../src/replay/basis-arg';

const policy = loadPolicyFile(path.resolve(__dirname, '../../config/features.yaml'));
const ANCHOR = 'fp.bus.context.flow_anchor.fraud.v1';
const TRAFFIC = 'fp.bus.traffic.fraud.v1';
const group = (name: string) => policy.groups.find((g) => g.name === name)!;

const expected = [
  {
    stream: ANCHOR,
    offsetKind: 'file_line',
    offsets: [
      { partition: 0, offset: '40' },
      { partition: 1, offset: '33' },
    ],
  },
  {
    stream: TRAFFIC,
    offsetKind: 'file_line',
    offsets: [
      { partition: 0, offset: '120' },
      { partition: 1, offset: '0' },
    ],
  },
];

describe('parseBasisArg', () => {
  it('reads pairs, a bare partition=offset continuing the stream before it, in any order and separators', () => {
    expect(parseBasisArg(`${TRAFFIC}:1=0,0=120 ${ANCHOR}:1=33;${ANCHOR}:0=40`)).toEqual(expected);
    expect(parseBasisArg(`  ${ANCHOR}:0=40,1=33,${TRAFFIC}:0=120,1=0\n`)).toEqual(expected);
  });

  it('reads the inputBasis JSON of a GraphQL answer, or the answer that holds it', () => {
    const inputBasis = [
      {
        stream: TRAFFIC,
        offsetKind: 'file_line',
        offsets: [
          { partition: 1, offset: '0' },
          { partition: 0, offset: '120' },
        ],
      },
      {
        stream: ANCHOR,
        offsetKind: 'file_line',
        offsets: [
          { partition: 0, offset: '40' },
          { partition: 1, offset: '33' },
        ],
      },
    ];
    expect(parseBasisArg(JSON.stringify(inputBasis))).toEqual(expected);
    expect(
      parseBasisArg(JSON.stringify({ data: { features: { __typename: 'FeatureSnapshot', inputBasis } } })),
    ).toEqual(expected);
    expect(parseBasisArg(JSON.stringify({ snapshotHash: 'x', inputBasis }))).toEqual(expected);
  });

  it('reads the section-6 input_basis and a platform eb_offset_basis (snake_case, numbers or strings)', () => {
    const doc = {
      input_basis: [
        {
          stream: ANCHOR,
          offset_kind: 'file_line',
          offsets: [
            { partition: 1, offset: 33 },
            { partition: '0', offset: '40' },
          ],
        },
      ],
    };
    expect(parseBasisArg(JSON.stringify(doc))).toEqual([expected[0]]);
    const contract = {
      snapshot: {
        eb_offset_basis: {
          stream: ANCHOR,
          offset_kind: 'file_line',
          offsets: [
            { partition: 0, offset: '40' },
            { partition: 1, offset: '33' },
          ],
        },
      },
    };
    expect(parseBasisArg(JSON.stringify(contract))).toEqual([expected[0]]);
  });

  it('uses the given offset kind for pairs', () => {
    expect(parseBasisArg(`${ANCHOR}:0=1`, 'kafka_offset')[0].offsetKind).toBe('kafka_offset');
  });

  it('formats pairs that parse back to the same basis', () => {
    expect(parseBasisArg(formatBasisPairs(expected))).toEqual(expected);
  });

  it.each([
    ['', /basis is empty/],
    ['0=5', /names no stream/],
    [`${ANCHOR}:0=-1`, /offset "-1" is not a non-negative integer/],
    [`${ANCHOR}:0=1.5`, /offset "1.5" is not a non-negative integer/],
    [`${ANCHOR}:0=01`, /offset "01" is not a non-negative integer/],
    [`${ANCHOR}:0=99999999999999999999`, /is not a non-negative integer/],
    [`${ANCHOR}:x=1`, /partition "x" is not a non-negative integer/],
    [`${ANCHOR}:0`, /is not stream:partition=offset/],
    [`${ANCHOR}:0=1:2`, /is not stream:partition=offset/],
    [`${ANCHOR}:0=1,0=2`, /partition 0 is named twice/],
    [`bad/stream:0=1`, /is not a stream name/],
    ['[{"stream":"s","offsets":[{"partition":0,"offset":"1"}]}', /not valid JSON/],
    ['{"foo":1}', /holds no inputBasis/],
    ['[{"stream":"s","offsetKind":"bytes","offsets":[]}]', /offset kind "bytes" is not one of/],
    [
      '[{"stream":"s","offsets":[{"partition":-1,"offset":"1"}]}]',
      /partition -1 is not a non-negative integer/,
    ],
    ['[{"stream":"s","offsets":[{"partition":0,"offset":-3}]}]', /offset -3 is not a non-negative integer/],
    ['[{"stream":"s","offsets":{}}]', /offsets must be a list/],
    ['[{"stream":"s","offsets":[]},{"stream":"s","offsets":[]}]', /stream s is named twice/],
  ])('refuses %j with one clear line', (text, message) => {
    expect(() => parseBasisArg(text)).toThrow(BasisArgError);
    expect(() => parseBasisArg(text)).toThrow(message);
    try {
      parseBasisArg(text);
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe('checkBasisForGroups', () => {
  it('accepts a basis naming exactly the streams the groups read', () => {
    expect(() =>
      checkBasisForGroups([expected[0]], [group('merchant_velocity'), group('device_velocity')]),
    ).not.toThrow();
    expect(() =>
      checkBasisForGroups(expected, [group('merchant_velocity'), group('flow_activity')]),
    ).not.toThrow();
  });

  it('refuses a stream the groups do not read', () => {
    expect(() => checkBasisForGroups(expected, [group('merchant_velocity')])).toThrow(
      `basis names stream ${TRAFFIC}, which none of the requested groups reads (they read ${ANCHOR})`,
    );
  });

  it('refuses a basis that leaves out a stream a group reads', () => {
    expect(() => checkBasisForGroups([expected[0]], [group('flow_activity')])).toThrow(
      /basis names stream .* which none/,
    );
    expect(() =>
      checkBasisForGroups([expected[0]], [group('merchant_velocity'), group('flow_activity')]),
    ).toThrow(`basis names no offsets for stream ${TRAFFIC}, which group flow_activity/v1 reads`);
  });
});
