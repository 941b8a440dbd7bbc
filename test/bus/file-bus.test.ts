import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { BusHistoryRewrittenError, FileEventBus } from '../../src/bus/file-bus';
import { partitionFilePath } from '../../src/bus/file-layout';

const STREAM = 'fp.bus.traffic.fraud.v1';

let root: string;
let bus: FileEventBus;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-file-bus-'));
  bus = new FileEventBus(root);
});

afterEach(async () => {
  await bus.close();
  fs.rmSync(root, { recursive: true, force: true });
});

function file(partition = 0, stream = STREAM): string {
  return partitionFilePath(root, stream, partition);
}

function write(text: string, partition = 0, stream = STREAM): void {
  fs.mkdirSync(path.dirname(file(partition, stream)), { recursive: true });
  fs.writeFileSync(file(partition, stream), text);
}

function append(text: string, partition = 0): void {
  fs.appendFileSync(file(partition), text);
}

async function raws(from = 0, max = 1000, partition = 0): Promise<string[]> {
  return (await bus.read(STREAM, partition, from, max)).records.map((r) => r.raw);
}

describe('FileEventBus: records are lines, offsets are line indexes', () => {
  it('returns each line as a record with stream, partition and 0-based offset', async () => {
    write('{"a":1}\n{"a":2}\n');
    const r = await bus.read(STREAM, 0, 0, 10);
    expect(r.records).toEqual([
      { stream: STREAM, partition: 0, offset: 0, raw: '{"a":1}' },
      { stream: STREAM, partition: 0, offset: 1, raw: '{"a":2}' },
    ]);
    expect(bus.offsetKind).toBe('file_line');
  });

  it('accepts \\r\\n line endings and strips exactly one \\r', async () => {
    write('one\r\ntwo\nthree\r\r\n');
    expect(await raws()).toEqual(['one', 'two', 'three\r']);
  });

  it('treats a blank line as a record with raw ""', async () => {
    write('a\n\nb\n\r\n');
    expect(await raws()).toEqual(['a', '', 'b', '']);
    expect(await bus.endOffset(STREAM, 0)).toBe(4);
  });

  it('keeps UTF-8 text intact, including characters split across read buffers', async () => {
    const small = new FileEventBus(root, { readBufferBytes: 16 });
    const lines = ['Zürich 日本 😀', 'é'.repeat(40), '', 'ascii'];
    write(lines.join('\n') + '\n');
    expect((await small.read(STREAM, 0, 0, 10)).records.map((r) => r.raw)).toEqual(lines);
    await small.close();
  });

  it('reports exclusive-next offsets: nextOffset is the offset after the last record returned', async () => {
    write('a\nb\nc\nd\ne\n');
    const first = await bus.read(STREAM, 0, 0, 3);
    expect(first.records.map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(first.nextOffset).toBe(3);
    expect(first.endOffset).toBe(5);
    const second = await bus.read(STREAM, 0, first.nextOffset, 3);
    expect(second.records.map((r) => r.raw)).toEqual(['d', 'e']);
    expect(second.nextOffset).toBe(5);
    const third = await bus.read(STREAM, 0, second.nextOffset, 3);
    expect(third).toEqual({ records: [], nextOffset: 5, endOffset: 5 });
  });

  it('reads from the middle of a large file, across index checkpoints and read buffers', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `{"i":${i},"pad":"${'x'.repeat(i % 97)}"}`);
    write(lines.join('\n') + '\n');
    const small = new FileEventBus(root, { indexInterval: 64, readBufferBytes: 256 });
    for (const [from, max] of [
      [2500, 10],
      [0, 3],
      [4990, 100],
      [1023, 2],
      [64, 64],
      [4999, 1],
    ]) {
      const r = await small.read(STREAM, 0, from, max);
      expect(r.records.map((x) => x.raw)).toEqual(lines.slice(from, from + max));
      expect(r.records[0].offset).toBe(from);
      expect(r.nextOffset).toBe(Math.min(from + max, 5000));
      expect(r.endOffset).toBe(5000);
    }
    await small.close();
  });

  it('returns exactly lines[from, from + max) for any content and any window (property)', async () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''));
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 0, maxLength: 60 }),
        fc.nat(70),
        fc.integer({ min: 1, max: 70 }),
        fc.boolean(),
        async (lines, from, max, crlf) => {
          write(lines.map((l) => l + (crlf ? '\r\n' : '\n')).join(''));
          const reader = new FileEventBus(root, { indexInterval: 4, readBufferBytes: 32 });
          try {
            const r = await reader.read(STREAM, 0, from, max);
            expect(r.records.map((x) => x.raw)).toEqual(lines.slice(from, from + max));
            expect(r.nextOffset).toBe(from + r.records.length);
            expect(r.endOffset).toBe(lines.length);
          } finally {
            await reader.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reads a line longer than its read buffer', async () => {
    const long = 'y'.repeat(10_000);
    write(`a\n${long}\nb\n`);
    const small = new FileEventBus(root, { readBufferBytes: 64 });
    expect((await small.read(STREAM, 0, 0, 10)).records.map((r) => r.raw)).toEqual(['a', long, 'b']);
    await small.close();
  });

  it('reading beyond the end returns nothing and keeps fromOffset as nextOffset', async () => {
    write('a\n');
    expect(await bus.read(STREAM, 0, 7, 10)).toEqual({ records: [], nextOffset: 7, endOffset: 1 });
  });

  it('rejects a negative or fractional offset or batch size', async () => {
    await expect(bus.read(STREAM, 0, -1, 10)).rejects.toThrow(RangeError);
    await expect(bus.read(STREAM, 0, 0, 1.5)).rejects.toThrow(RangeError);
    await expect(bus.read('../etc', 0, 0, 1)).rejects.toThrow(RangeError);
  });
});

describe('FileEventBus: an incomplete last line is not a record yet', () => {
  it('does not return or count a final line without its line ending', async () => {
    write('a\nb\n{"half":');
    const r = await bus.read(STREAM, 0, 0, 10);
    expect(r.records.map((x) => x.raw)).toEqual(['a', 'b']);
    expect(r.endOffset).toBe(2);
    expect(await bus.endOffset(STREAM, 0)).toBe(2);
  });

  it('returns the line at its offset once its ending arrives', async () => {
    write('a\n{"half":');
    expect(await raws(1)).toEqual([]);
    append('1}');
    expect(await raws(1)).toEqual([]);
    append('\r\n');
    const r = await bus.read(STREAM, 0, 1, 10);
    expect(r.records).toEqual([{ stream: STREAM, partition: 0, offset: 1, raw: '{"half":1}' }]);
  });

  it('a lone \\r at the end is still incomplete', async () => {
    write('a\nb\r');
    expect(await raws()).toEqual(['a']);
  });
});

describe('FileEventBus: streams and partitions', () => {
  it('lists nothing and reads empty when the root, stream or partition does not exist', async () => {
    const missing = new FileEventBus(path.join(root, 'nope'));
    expect(await missing.listStreams()).toEqual([]);
    expect(await missing.listPartitions(STREAM)).toEqual([]);
    expect(await missing.read(STREAM, 3, 0, 10)).toEqual({ records: [], nextOffset: 0, endOffset: 0 });
    expect(await missing.endOffset(STREAM, 3)).toBe(0);
    await missing.close();
  });

  it('lists stream directories sorted and partitions in numeric order, ignoring other files', async () => {
    write('', 10);
    write('', 2);
    write('', 0, 'fp.bus.context.flow_anchor.fraud.v1');
    fs.writeFileSync(path.join(root, STREAM, 'partition=x.jsonl'), '');
    fs.writeFileSync(path.join(root, STREAM, 'README'), '');
    fs.writeFileSync(path.join(root, 'stray-file'), '');
    expect(await bus.listStreams()).toEqual(['fp.bus.context.flow_anchor.fraud.v1', STREAM]);
    expect(await bus.listPartitions(STREAM)).toEqual([2, 10]);
  });
});

describe('FileEventBus: waiting for records', () => {
  it('returns as soon as a record is appended, well before waitMs (file watch, not the poll)', async () => {
    write('a\n');
    const watching = new FileEventBus(root, { pollIntervalMs: 60_000 });
    const started = Date.now();
    setTimeout(() => append('b\n'), 150);
    const r = await watching.read(STREAM, 0, 1, 10, { waitMs: 20_000 });
    const elapsed = Date.now() - started;
    expect(r.records.map((x) => x.raw)).toEqual(['b']);
    expect(r.nextOffset).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(100);
    expect(elapsed).toBeLessThan(3_000);
    await watching.close();
  });

  it('waits for a partition file (and stream directory) that does not exist yet', async () => {
    const watching = new FileEventBus(root, { pollIntervalMs: 60_000 });
    const started = Date.now();
    setTimeout(() => write('first\n', 5), 150);
    const r = await watching.read(STREAM, 5, 0, 10, { waitMs: 20_000 });
    expect(r.records.map((x) => x.raw)).toEqual(['first']);
    expect(Date.now() - started).toBeLessThan(3_000);
    await watching.close();
  });

  it('wakes when an incomplete line is completed', async () => {
    write('a\n{"x":');
    const watching = new FileEventBus(root, { pollIntervalMs: 60_000 });
    setTimeout(() => append('1}\n'), 100);
    const r = await watching.read(STREAM, 0, 1, 10, { waitMs: 20_000 });
    expect(r.records.map((x) => x.raw)).toEqual(['{"x":1}']);
    await watching.close();
  });

  it('falls back to polling when the root does not exist (nothing to watch)', async () => {
    const nested = path.join(root, 'later');
    const polling = new FileEventBus(nested, { pollIntervalMs: 50 });
    setTimeout(() => {
      fs.mkdirSync(path.join(nested, STREAM), { recursive: true });
      fs.writeFileSync(partitionFilePath(nested, STREAM, 0), 'x\n');
    }, 100);
    const r = await polling.read(STREAM, 0, 0, 10, { waitMs: 10_000 });
    expect(r.records.map((x) => x.raw)).toEqual(['x']);
    await polling.close();
  });

  it('times out with an empty result after waitMs', async () => {
    write('a\n');
    const started = Date.now();
    const r = await bus.read(STREAM, 0, 1, 10, { waitMs: 300 });
    const elapsed = Date.now() - started;
    expect(r).toEqual({ records: [], nextOffset: 1, endOffset: 1 });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('ends a wait early on abort, returning the empty result', async () => {
    write('a\n');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const r = await bus.read(STREAM, 0, 1, 10, { waitMs: 20_000, signal: controller.signal });
    expect(r.records).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('ends pending waits on close and refuses reads afterwards', async () => {
    write('a\n');
    const pending = bus.read(STREAM, 0, 1, 10, { waitMs: 20_000 });
    setTimeout(() => void bus.close(), 100);
    const started = Date.now();
    expect((await pending).records).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect(bus.read(STREAM, 0, 0, 1)).rejects.toThrow(/closed/);
  });

  it('does not wait when records are already there', async () => {
    write('a\n');
    const started = Date.now();
    expect(await raws(0)).toEqual(['a']);
    await bus.read(STREAM, 0, 0, 1, { waitMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('FileEventBus: history rewritten below a known offset', () => {
  it('throws BusHistoryRewrittenError when the file got shorter than what was read', async () => {
    write('a\nb\nc\nd\n');
    expect(await raws()).toHaveLength(4);
    fs.writeFileSync(file(), 'a\nb\n');
    const error = await bus.read(STREAM, 0, 4, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BusHistoryRewrittenError);
    expect(error).toMatchObject({ stream: STREAM, partition: 0, offset: 4 });
    // It keeps failing rather than quietly serving the new content.
    await expect(bus.read(STREAM, 0, 0, 10)).rejects.toBeInstanceOf(BusHistoryRewrittenError);
  });

  it('throws when a known line boundary moved (file rewritten to the same or a longer size)', async () => {
    write('aaaa\nbbbb\n');
    expect(await raws(0, 1)).toEqual(['aaaa']); // line 1 is known to start at byte 5
    fs.writeFileSync(file(), 'aa\naaaa\nbbbb\n');
    await expect(bus.read(STREAM, 0, 1, 10)).rejects.toMatchObject({
      name: 'BusHistoryRewrittenError',
      offset: 1,
    });
  });

  it('throws when a partition file that had records disappears', async () => {
    write('a\n');
    await raws();
    fs.rmSync(file());
    await expect(bus.endOffset(STREAM, 0)).rejects.toBeInstanceOf(BusHistoryRewrittenError);
  });

  it('forgetPartition lets an operator accept a deliberately replaced file', async () => {
    write('a\nb\n');
    await raws();
    fs.writeFileSync(file(), 'x\n');
    await expect(raws()).rejects.toBeInstanceOf(BusHistoryRewrittenError);
    bus.forgetPartition(STREAM, 0);
    expect(await raws()).toEqual(['x']);
  });
});

describe('FileEventBus: sequential reads stay O(batch)', () => {
  it('reads a 100,000-line file in batches quickly and in order', async () => {
    const line = `{"payload":"${'z'.repeat(580)}"}`;
    write(Array.from({ length: 100_000 }, () => line).join('\n') + '\n');
    const started = Date.now();
    let offset = 0;
    let total = 0;
    for (;;) {
      const r = await bus.read(STREAM, 0, offset, 5000);
      if (r.records.length === 0) break;
      expect(r.records[0].offset).toBe(offset);
      total += r.records.length;
      offset = r.nextOffset;
    }
    expect(total).toBe(100_000);
    // Generous bound for a loaded CI machine; bench/bus.bench.ts measures the real rate.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
