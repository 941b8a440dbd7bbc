/**
 * `ofp parity` against a fake gateway (a fetch that answers from an offline replay, like a correct gateway would):
 * every sample matches; a gateway that serves one wrong value is caught with a readable diff; the draw is
 * deterministic and probes the edges it promises; gateway failures are one clear error.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileEventBus } from '../../src/bus/file-bus';
import { envelopeSchema, payloadSchemas } from '../../src/contracts';
import { RecordParser } from '../../src/core/envelope';
import { loadPolicyFile } from '../../src/core/policy-file';
import { snapshotHash, type InputBasis } from '../../src/core/snapshot';
import { generate } from '../../src/generator/generate';
import { toGraphqlSnapshot } from '../../src/replay/graphql-answer';
import {
  GatewayClient,
  GatewayError,
  buildCatalog,
  drawSamples,
  formatParityReport,
  runParity,
} from '../../src/replay/parity';
import { answerFromReplay, fullBasis, replayBus, type ReplayState } from '../../src/replay/replay';
import { FeaturesRequestError } from '../../src/serving/errors';
import { validateRequest, type FeatureRequestInput } from '../../src/serving/request';

jest.setTimeout(60_000);

const policy = loadPolicyFile(path.resolve(__dirname, '../../config/features.yaml'));
const parser = new RecordParser({ envelopeSchema, payloadSchemas });

let root: string;
let bus: FileEventBus;
let basis: InputBasis[];
let state: ReplayState;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-parity-test-'));
  await generate(
    {
      seed: 9,
      count: 3000,
      rate: 5,
      runs: 2,
      partitions: 2,
      duplicateFraction: 0.03,
      outOfOrderFraction: 0.05,
      anomalyFraction: 0.01,
      payloadInvalidFraction: 0.01,
      progress: false,
    },
    root,
  );
  bus = new FileEventBus(root);
  basis = await fullBasis(bus, policy);
  state = await replayBus(bus, policy, parser, basis);
});
afterAll(async () => {
  await bus.close();
  fs.rmSync(root, { recursive: true, force: true });
});

type Tamper = (answer: ReturnType<typeof toGraphqlSnapshot>) => void;

/** A fetch that answers like a gateway whose database holds exactly the replayed state. */
function fakeGateway(tamper?: Tamper): typeof fetch {
  const partitions = basis.flatMap((b) =>
    b.offsets.map((o) => ({ stream: b.stream, partition: o.partition, nextOffset: o.offset })),
  );
  return (async (_url: unknown, init?: { body?: unknown; headers?: Record<string, string> }) => {
    if (init?.headers?.authorization !== 'Bearer reader-token')
      return new Response('{"errors":[{"message":"no"}]}', { status: 401 });
    const { query, variables } = JSON.parse(String(init.body)) as {
      query: string;
      variables: FeatureRequestInput;
    };
    if (!query.includes('features(')) return Response.json({ data: { partitions } });
    let features: unknown;
    try {
      const req = validateRequest(variables, policy);
      const read = new Set(req.groups.flatMap((g) => g.streams));
      const content = answerFromReplay(
        state,
        policy,
        req,
        basis.filter((b) => read.has(b.stream)),
      );
      const answer = toGraphqlSnapshot(content, snapshotHash(content));
      tamper?.(answer);
      features = answer;
    } catch (err) {
      if (!(err instanceof FeaturesRequestError)) throw err;
      features = {
        __typename: 'FeaturesError',
        code: err.code,
        retryable: err.retryable,
        detail: err.detail,
        requestId: 'r',
      };
    }
    return Response.json({ data: { features, partitions } });
  }) as unknown as typeof fetch;
}

const options = (f: typeof fetch) => ({
  url: 'http://gateway.test:4000',
  token: 'reader-token',
  samples: 250,
  seed: 3,
  bus,
  policy,
  parser,
  fetch: f,
});

describe('runParity', () => {
  it('matches a correct gateway on every sample, errors included, with one replay', async () => {
    const phases = new Set<string>();
    const report = await runParity({ ...options(fakeGateway()), onProgress: (p) => phases.add(p) });
    expect(formatParityReport(report)).toMatch(
      /^parity: 250 samples, 250 match, 0 mismatch \(100\.0 % match\)/,
    );
    expect(report.mismatches).toEqual([]);
    expect(report.replays).toHaveLength(1);
    expect(report.outcomes.OK).toBeGreaterThan(150);
    expect(Object.keys(report.errorsByCode).sort()).toEqual(
      expect.arrayContaining(['INVALID_REQUEST', 'NOT_FOUND']),
    );
    expect([...phases].sort()).toEqual(['ask', 'compare', 'replay']);
  });

  it('catches a gateway that serves one wrong value, and prints which entry and value', async () => {
    let tampered = 0;
    const report = await runParity(
      options(
        fakeGateway((answer) => {
          const entry = answer.values.find((e) => e.status === 'OK');
          const v = entry?.features.find((f) => f.name.startsWith('amount_sum_24h'));
          if (entry && v && tampered < 3) {
            v.value =
              tampered === 2
                ? `${v.value}${v.value?.includes('.') ? '0' : '.0'}`
                : v.value === '0'
                  ? '1'
                  : `${v.value}1`;
            tampered++;
          }
        }),
      ),
    );
    expect(report.mismatches).toHaveLength(3);
    const text = formatParityReport(report);
    expect(text).toMatch(/3 mismatch/);
    const m = report.mismatches[0];
    const entry = m.diff.find((d) => d.path.endsWith('.amount_sum_24h'));
    expect(entry?.path).toMatch(/^features\[\w+\/v1 \w+:\d+\]\.amount_sum_24h$/);
    expect(String(entry?.online)).toBe(entry?.offline === '0' ? '1' : `${entry?.offline}1`);
    // The gateway's own hash still covers what it served before tampering: the recomputed hash differs too.
    expect(m.diff.map((d) => d.path)).toContain('snapshotHash (recomputed from the online answer)');
    expect(text).toContain('mismatch 1/3: sample');
    // A value that is not canonical text cannot have been hashed as served.
    expect(
      report.mismatches[2].diff.find((d) => d.path.startsWith('snapshotHash (recomputed'))?.offline,
    ).toMatch(/^not computable: .* is not canonical decimal text$/);
    expect(text).toContain('  request {"pins"');
  });

  it('reports an unreachable gateway or a refused token as one clear error', async () => {
    await expect(runParity({ ...options(fakeGateway()), token: 'wrong' })).rejects.toThrow(
      new GatewayError('the gateway at http://gateway.test:4000/graphql refused the token (HTTP 401)'),
    );
    const refused = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as unknown as typeof fetch;
    await expect(runParity(options(refused))).rejects.toThrow(
      'cannot reach the gateway at http://gateway.test:4000/graphql: ECONNREFUSED',
    );
  });
});

describe('drawSamples', () => {
  it('is deterministic in its seed and probes runs, keys and window edges', () => {
    const catalog = buildCatalog(state);
    const a = drawSamples(catalog, policy, 400, 11);
    expect(drawSamples(catalog, policy, 400, 11)).toEqual(a);
    expect(drawSamples(catalog, policy, 400, 12)).not.toEqual(a);
    const labels = a.map((s) => s.label).join('\n');
    for (const probe of [
      'asOf = event\n',
      'asOf = event + 1µs',
      'asOf = event - 1µs',
      'asOf = event + 1h (event just outside)',
      'asOf = event + 1h - 1µs (event just inside)',
      'asOf = event - 1h',
      'asOf = event - 1h + 1µs',
      'STALE',
      'asOf before any data of the run',
      'earliest servable instant',
      'absent key',
      'key of another run',
      'run differing in',
    ]) {
      expect(`${labels}\n`).toContain(probe);
    }
    expect(new Set(a.map((s) => s.input.pins.seed)).size).toBeGreaterThanOrEqual(2);
  });

  it('accepts a gateway URL with or without /graphql', () => {
    expect(new GatewayClient('http://127.0.0.1:4000', 't').endpoint).toBe('http://127.0.0.1:4000/graphql');
    expect(new GatewayClient('http://127.0.0.1:4000/graphql', 't').endpoint).toBe(
      'http://127.0.0.1:4000/graphql',
    );
  });
});
