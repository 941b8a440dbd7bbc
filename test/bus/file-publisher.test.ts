import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FileEventBus } from '../../src/bus/file-bus';
import { partitionFilePath } from '../../src/bus/file-layout';
import { FilePublisher, publishJsonLines } from '../../src/bus/file-publisher';
import { LineBuffer } from '../../src/bus/line-buffer';
import { readPartitionKey } from '../../src/bus/partition-key';
import { partitionFor } from '../../src/bus/partitioner';
import type { Logger } from '../../src/logger';

const STREAM = 'fp.bus.traffic.fraud.v1';
const REPO = path.resolve(__dirname, '../..');

let root: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-publisher-'));
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function fileLines(partition: number, stream = STREAM): string[] {
  const p = partitionFilePath(root, stream, partition);
  if (!fs.existsSync(p)) return [];
  const text = fs.readFileSync(p, 'utf8');
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

const silent = { warn: jest.fn() } as unknown as Logger;

describe('FilePublisher.publish', () => {
  it('routes each record by partitionFor(key, partitions) and creates directories as needed', async () => {
    const publisher = new FilePublisher(path.join(root, 'nested'));
    const records = Array.from({ length: 50 }, (_, i) => ({ line: `{"i":${i}}`, key: String(1000 + i) }));
    const counts = await publisher.publish(STREAM, records, { partitions: 4 });
    const bus = new FileEventBus(path.join(root, 'nested'));
    let total = 0;
    for (let p = 0; p < 4; p++) {
      const expected = records.filter((r) => partitionFor(r.key, 4) === p).map((r) => r.line);
      const read = (await bus.read(STREAM, p, 0, 100)).records.map((r) => r.raw);
      expect(read).toEqual(expected); // in publish order
      expect(counts.get(p) ?? 0).toBe(expected.length);
      total += read.length;
    }
    expect(total).toBe(50);
    expect([...counts.keys()]).toEqual([...counts.keys()].sort((a, b) => a - b));
    await bus.close();
  });

  it('honours an explicit partition and rejects one out of range', async () => {
    const publisher = new FilePublisher(root);
    await publisher.publish(STREAM, [{ line: 'x', key: '1', partition: 3 }], { partitions: 4 });
    expect(fileLines(3)).toEqual(['x']);
    await expect(
      publisher.publish(STREAM, [{ line: 'y', key: '1', partition: 4 }], { partitions: 4 }),
    ).rejects.toThrow(RangeError);
  });

  it('appends across calls in call order', async () => {
    const publisher = new FilePublisher(root);
    await publisher.publish(STREAM, [{ line: 'a', key: 'k' }], { partitions: 1 });
    await publisher.publish(
      STREAM,
      [
        { line: 'b', key: 'k' },
        { line: 'c', key: 'k' },
      ],
      { partitions: 1 },
    );
    expect(fileLines(0)).toEqual(['a', 'b', 'c']);
  });

  it('refuses a line containing a line break, writing nothing of the call', async () => {
    const publisher = new FilePublisher(root);
    const bad = [
      { line: 'ok', key: '1', partition: 0 },
      { line: 'two\nlines', key: '1', partition: 1 },
    ];
    await expect(publisher.publish(STREAM, bad, { partitions: 2 })).rejects.toThrow(/line break/);
    await expect(publisher.publish(STREAM, [{ line: 'cr\r', key: '1' }], { partitions: 1 })).rejects.toThrow(
      /line break/,
    );
    expect(fileLines(0)).toEqual([]);
    expect(fileLines(1)).toEqual([]);
  });

  it('splits a batch above maxWriteBytes into writes of whole lines', async () => {
    const publisher = new FilePublisher(root, { maxWriteBytes: 100 });
    const lines = Array.from({ length: 40 }, (_, i) => `line-${i}-${'é'.repeat(i % 13)}`);
    await publisher.publish(
      STREAM,
      lines.map((line) => ({ line, key: 'k' })),
      { partitions: 1 },
    );
    expect(fileLines(0)).toEqual(lines);
  });

  it('many concurrent publishes to one partition never interleave: each call lands as one contiguous block', async () => {
    const publisher = new FilePublisher(root);
    const calls = Array.from({ length: 40 }, (_, c) =>
      Array.from({ length: 25 }, (_, i) => ({
        line: JSON.stringify({ c, i, pad: 'p'.repeat(((c * 25 + i) * 7919) % 20_000) }),
        key: 'same',
      })),
    );
    await Promise.all(calls.map((records) => publisher.publish(STREAM, records, { partitions: 1 })));
    const lines = fileLines(0);
    expect(lines).toHaveLength(1000);
    const parsed = lines.map((l) => JSON.parse(l) as { c: number; i: number });
    for (let k = 0; k < parsed.length; k += 25) {
      const block = parsed.slice(k, k + 25);
      expect(block.map((x) => x.c)).toEqual(new Array(25).fill(block[0].c));
      expect(block.map((x) => x.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    }
  });

  it('two publisher processes appending at once: no torn or interleaved line, ever seen by a concurrent reader', async () => {
    const worker = path.join(__dirname, 'fixtures', 'append-worker.ts');
    const batches = 30;
    const perBatch = 20;
    const run = (tag: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', worker, root, STREAM, tag, String(batches), String(perBatch)],
          {
            cwd: REPO,
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('exit', (code) =>
          code === 0 ? resolve(code) : reject(new Error(`worker ${tag} exited ${code}: ${stderr}`)),
        );
      });

    // A reader follows the file while the writers run: every record it returns must be a whole JSON line.
    const bus = new FileEventBus(root, { pollIntervalMs: 20 });
    let done = false;
    let offset = 0;
    const seen: string[] = [];
    const reader = (async () => {
      while (!done || offset < (await bus.endOffset(STREAM, 0))) {
        const r = await bus.read(STREAM, 0, offset, 500, { waitMs: 50 });
        for (const rec of r.records) seen.push(rec.raw);
        offset = r.nextOffset;
      }
    })();
    await Promise.all([run('procA'), run('procB')]);
    done = true;
    await reader;
    await bus.close();

    const total = 2 * batches * perBatch;
    expect(seen).toHaveLength(total);
    expect(fileLines(0)).toEqual(seen);
    const parsed = seen.map((l) => JSON.parse(l) as { tag: string; batch: number; seq: number; pad: string });
    for (const tag of ['procA', 'procB']) {
      const mine = parsed.filter((x) => x.tag === tag);
      expect(mine.map((x) => x.seq)).toEqual(Array.from({ length: batches * perBatch }, (_, i) => i));
      for (const x of mine) expect(x.pad).toBe(tag.repeat(((x.seq * 7919) % 8000) + 1));
    }
    // One write per batch: each batch's lines are contiguous in the file.
    for (let k = 0; k < parsed.length; k += perBatch) {
      const block = parsed.slice(k, k + perBatch);
      expect(new Set(block.map((x) => `${x.tag}/${x.batch}`)).size).toBe(1);
    }
  }, 60_000);
});

describe('LineBuffer', () => {
  it('encodes lines with their line ending and starts over after take()', () => {
    const b = new LineBuffer(16, 1 << 20);
    b.add('a');
    b.add('');
    b.add('日本');
    expect(b.lines).toBe(3);
    expect(Buffer.concat(b.take()).toString('utf8')).toBe('a\n\n日本\n');
    expect(b.lines).toBe(0);
    expect(b.take()).toEqual([]);
  });

  it('keeps every chunk at most maxChunkBytes and ending with a whole line', () => {
    const b = new LineBuffer(8, 50);
    const lines = Array.from({ length: 30 }, (_, i) => 'x'.repeat(i % 17));
    lines.push('y'.repeat(120)); // longer than a chunk: a chunk of its own
    for (const l of lines) b.add(l);
    const chunks = b.take();
    for (const c of chunks) {
      expect(c[c.length - 1]).toBe(10);
      if (c.length > 50) expect(c.toString()).toBe('y'.repeat(120) + '\n');
    }
    expect(Buffer.concat(chunks).toString()).toBe(lines.map((l) => l + '\n').join(''));
  });
});

describe('LineBuffer: lines in pieces', () => {
  it('builds a line from text and pre-encoded bytes', () => {
    const b = new LineBuffer(16);
    b.beginLine();
    b.text('{"a":');
    b.bytes(Buffer.from('"Zürich"'));
    b.text('}');
    b.endLine();
    b.add('next');
    expect(b.lines).toBe(2);
    expect(Buffer.concat(b.take()).toString('utf8')).toBe('{"a":"Zürich"}\nnext\n');
  });

  it('drops a line whose pieces contain a line break, keeping the lines before it', () => {
    const b = new LineBuffer(16);
    b.add('kept');
    b.beginLine();
    b.text('half');
    expect(() => b.bytes(Buffer.from('x\ny'))).toThrow(/line break/);
    b.beginLine();
    b.text('ends in CR\r');
    expect(() => b.endLine()).toThrow(/line break/);
    expect(Buffer.concat(b.take()).toString()).toBe('kept\n');
  });

  it('reuses the memory of a taken batch after recycle()', () => {
    const b = new LineBuffer(64);
    b.add('first batch');
    const [first] = b.take();
    expect(first.toString()).toBe('first batch\n');
    b.add('second batch');
    const [second] = b.take();
    b.recycle(); // `second` has been written
    b.add('third batch');
    const [third] = b.take();
    expect(third.buffer).toBe(second.buffer);
    expect(third.toString()).toBe('third batch\n');
  });
});

describe('readPartitionKey: the key text of a JSONL record', () => {
  it('reads payload.flow_id of a bare envelope as its exact text, beyond 2^53', () => {
    expect(readPartitionKey('{"event_id":"e","payload":{"flow_id":18446744073709551615}}')).toBe(
      '18446744073709551615',
    );
    expect(readPartitionKey('{"payload":{"flow_id":9007199254740993}}')).toBe('9007199254740993');
  });

  it('unwraps {envelope: ...} and the platform framing {payload, partition_key | published_at_utc}', () => {
    expect(readPartitionKey('{"envelope":{"payload":{"flow_id":7}},"payload":{"flow_id":8}}')).toBe('7');
    expect(readPartitionKey('{"published_at_utc":"x","payload":{"payload":{"flow_id":9}}}')).toBe('9');
    expect(readPartitionKey('{"partition_key":"fk","payload":{"payload":{"flow_id":10}}}')).toBe('10');
  });

  it("falls back to the platform framing's partition_key when the event has no key", () => {
    expect(readPartitionKey('{"partition_key":"42","payload":{"payload":{}}}')).toBe('42');
  });

  it('uses a custom dotted path and accepts string keys', () => {
    expect(readPartitionKey('{"payload":{"merchant_id":"m-1"}}', 'payload.merchant_id')).toBe('m-1');
  });

  it('returns null when the key cannot be read', () => {
    for (const line of [
      '',
      'NaN',
      '{"payload":',
      '[1]',
      '{"payload":{"flow_id":null}}',
      '{"payload":{"flow_id":{}}}',
      '{"a":1,"a":2}',
    ]) {
      expect(readPartitionKey(line)).toBeNull();
    }
  });
});

describe('publishJsonLines (ofp publish)', () => {
  it('publishes every line as read, routed by the exact flow_id text, in input order', async () => {
    const big = '18446744073709551615';
    const input = [
      `{"event_id":"a","payload":{"flow_id":${big}}}`,
      `{"envelope":{"event_id":"b","payload":{"flow_id":5}}}`,
      `{"published_at_utc":"2026-01-01T00:00:00.000000Z","payload":{"event_id":"c","payload":{"flow_id":6}}}`,
      `{"event_id":"d","payload":{"flow_id":5}}`,
    ];
    const summary = await publishJsonLines(Readable.from([input.join('\n') + '\n']), STREAM, {
      busRoot: root,
      partitions: 8,
      logger: silent,
    });
    expect(summary).toMatchObject({ stream: STREAM, records: 4, unkeyed: 0, unkeyedLines: [] });
    expect(fileLines(partitionFor(big, 8))).toContain(input[0]);
    // flow 5 keeps its order on one partition
    const p5 = fileLines(partitionFor('5', 8)).filter((l) => l.includes('"flow_id":5'));
    expect(p5).toEqual([input[1], input[3]]);
    expect(fileLines(partitionFor('6', 8))).toContain(input[2]);
  });

  it('sends lines without a readable key to partition 0, counted and reported, never dropped', async () => {
    const warn = jest.fn();
    const lines = ['{"payload":{"flow_id":3}}', '', 'NaN', '{"truncated":', '{"payload":{}}'];
    const summary = await publishJsonLines(Readable.from([lines.join('\n') + '\n']), STREAM, {
      busRoot: root,
      partitions: 4,
      logger: { warn } as unknown as Logger,
    });
    expect(summary.records).toBe(5);
    expect(summary.unkeyed).toBe(4);
    expect(summary.unkeyedLines).toEqual([2, 3, 4, 5]);
    expect(fileLines(0)).toEqual(expect.arrayContaining(['', 'NaN', '{"truncated":', '{"payload":{}}']));
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('handles \\r\\n input, a final line without line ending, and chunks split inside UTF-8 characters', async () => {
    const text = '{"payload":{"flow_id":1,"city":"Zürich"}}\r\n{"payload":{"flow_id":1,"city":"日本"}}';
    const bytes = Buffer.from(text, 'utf8');
    const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)); // one byte at a time
    const summary = await publishJsonLines(Readable.from(chunks), STREAM, {
      busRoot: root,
      partitions: 1,
      batchLines: 1,
      logger: silent,
    });
    expect(summary.records).toBe(2);
    expect(fileLines(0)).toEqual([
      '{"payload":{"flow_id":1,"city":"Zürich"}}',
      '{"payload":{"flow_id":1,"city":"日本"}}',
    ]);
  });

  it('uses partitionKey when given', async () => {
    const line = '{"payload":{"flow_id":1,"merchant_id":77}}';
    await publishJsonLines(Readable.from([line + '\n']), STREAM, {
      busRoot: root,
      partitions: 16,
      partitionKey: 'payload.merchant_id',
      logger: silent,
    });
    expect(fileLines(partitionFor('77', 16))).toEqual([line]);
  });
});
