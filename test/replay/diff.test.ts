/** The diff printer of `ofp parity`: which entry, which value, online vs offline, in the hashed encoding. */
import { snapshotHash, type SnapshotContent } from '../../src/core/snapshot';
import { diffOutcomes, diffSnapshots, formatDiff, type AnswerOutcome } from '../../src/replay/diff';
import { examplePins } from '../fixtures/pins';

function content(): SnapshotContent {
  return {
    pins: examplePins(),
    asOfUtc: '2026-02-06T17:05:00.123456Z',
    policyRev: { policyId: 'ofp.features.default', revision: 'r1', contentDigest: 'a'.repeat(64) },
    featureGroups: [{ name: 'flow_activity', version: 'v1' }],
    inputBasis: [
      {
        stream: 'fp.bus.traffic.fraud.v1',
        offsetKind: 'file_line',
        offsets: [{ partition: 0, offset: '3' }],
      },
    ],
    graphVersion: null,
    freshness: { state: 'GREEN', flags: [] },
    features: [
      {
        group: 'flow_activity',
        version: 'v1',
        keyType: 'flow_id',
        keyId: '1',
        status: 'OK',
        lastEventTsUtc: '2026-02-06T17:05:00.123456Z',
        values: [
          { name: 'txn_count_1h', value: { kind: 'count', value: 2 } },
          { name: 'amount_sum_1h', value: { kind: 'decimal', value: '13.5' } },
          { name: 'amount_max_1h', value: { kind: 'decimal', value: '10' } },
        ],
      },
    ],
  };
}

const snapshot = (c: SnapshotContent): AnswerOutcome => ({
  kind: 'snapshot',
  content: c,
  snapshotHash: snapshotHash(c),
});

describe('diffSnapshots / formatDiff', () => {
  it('finds nothing between equal contents', () => {
    expect(diffSnapshots(content(), content())).toEqual([]);
    expect(diffOutcomes(snapshot(content()), snapshot(content()))).toEqual([]);
  });

  it('names the entry and value that differ, showing each side in the hashed encoding', () => {
    const online = content();
    const offline = content();
    offline.features[0].values[1] = { name: 'amount_sum_1h', value: { kind: 'decimal', value: '12' } };
    offline.features[0].values[0] = { name: 'txn_count_1h', value: { kind: 'decimal', value: '2' } };
    offline.features[0].values[2] = { name: 'amount_max_1h', value: { kind: 'decimal', value: null } };
    const lines = diffOutcomes(snapshot(online), snapshot(offline));
    expect(formatDiff(lines)).toBe(
      [
        '  features[flow_activity/v1 flow_id:1].amount_max_1h: online "10", offline null',
        '  features[flow_activity/v1 flow_id:1].amount_sum_1h: online "13.5", offline "12"',
        '  features[flow_activity/v1 flow_id:1].txn_count_1h: online 2, offline "2"',
        `  snapshotHash: online "${snapshotHash(online)}", offline "${snapshotHash(offline)}"`,
      ].join('\n'),
    );
  });

  it('reports status, last event, freshness, basis, pins and entries present on one side only', () => {
    const online = content();
    const offline = content();
    offline.features[0].status = 'STALE';
    offline.features[0].lastEventTsUtc = null;
    offline.freshness = { state: 'AMBER', flags: ['STALE_KEYS'] };
    offline.inputBasis = [
      {
        stream: 'fp.bus.traffic.fraud.v1',
        offsetKind: 'file_line',
        offsets: [
          { partition: 0, offset: '4' },
          { partition: 1, offset: '0' },
        ],
      },
    ];
    offline.pins = { ...offline.pins, runId: 'e'.repeat(32) };
    offline.features.push({ ...offline.features[0], keyId: '9' });
    const text = formatDiff(diffSnapshots(online, offline));
    expect(text).toContain(`pins.runId: online (absent), offline "${'e'.repeat(32)}"`);
    expect(text).toContain('inputBasis[fp.bus.traffic.fraud.v1/0]: online "3", offline "4"');
    expect(text).toContain('inputBasis[fp.bus.traffic.fraud.v1/1]: online (absent), offline "0"');
    expect(text).toContain('freshness.state: online "GREEN", offline "AMBER"');
    expect(text).toContain('freshness.flags: online [], offline ["STALE_KEYS"]');
    expect(text).toContain('features[flow_activity/v1 flow_id:1].status: online "OK", offline "STALE"');
    expect(text).toContain(
      'features[flow_activity/v1 flow_id:1].lastEventTsUtc: online "2026-02-06T17:05:00.123456Z", offline null',
    );
    expect(text).toContain('features[flow_activity/v1 flow_id:9]: online absent, offline present');
  });

  it('sorts key ids by UTF-16 code units like the hash document', () => {
    const online = content();
    const offline = content();
    for (const c of [online, offline]) c.features = ['9', '10'].map((keyId) => ({ ...c.features[0], keyId }));
    offline.features.forEach((e) => (e.status = 'NO_DATA'));
    expect(diffSnapshots(online, offline).map((l) => l.path)).toEqual([
      'features[flow_activity/v1 flow_id:10].status',
      'features[flow_activity/v1 flow_id:9].status',
    ]);
  });

  it('matches errors by code (details may differ) and shows an error against a snapshot', () => {
    expect(
      diffOutcomes(
        { kind: 'error', code: 'NOT_FOUND', detail: 'a' },
        { kind: 'error', code: 'NOT_FOUND', detail: 'b' },
      ),
    ).toEqual([]);
    const lines = diffOutcomes({ kind: 'error', code: 'NOT_FOUND', detail: 'no event' }, snapshot(content()));
    expect(formatDiff(lines)).toBe(
      `  answer: online NOT_FOUND: no event, offline snapshot ${snapshotHash(content())}`,
    );
    expect(
      formatDiff(
        diffOutcomes(
          { kind: 'error', code: 'NOT_FOUND', detail: 'x' },
          { kind: 'error', code: 'INVALID_REQUEST', detail: 'y' },
        ),
      ),
    ).toBe('  answer: online NOT_FOUND: x, offline INVALID_REQUEST: y');
  });
});
