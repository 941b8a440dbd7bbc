/** Locating and obtaining the Temporal CLI, with fake binaries and a fake `go` so that nothing is really built. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { TemporalCliUnavailableError } from '../../src/services/errors';
import {
  cachedTemporalCliPath,
  ensureTemporalCli,
  findTemporalCli,
  installTemporal,
  TEMPORAL_CLI_VERSION,
} from '../../src/services/temporal-cli';

const log = pino({ level: 'silent' });
let tmp: string;

function script(file: string, body: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-temporal-cli-test-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('findTemporalCli', () => {
  it('prefers OFP_TEMPORAL_BIN, then PATH, then the cache under XDG_CACHE_HOME', () => {
    expect(TEMPORAL_CLI_VERSION).toBe('v1.5.1');
    const env: NodeJS.ProcessEnv = { PATH: path.join(tmp, 'bin'), XDG_CACHE_HOME: path.join(tmp, 'cache') };
    const cached = script(cachedTemporalCliPath(TEMPORAL_CLI_VERSION, env), 'echo cached');
    expect(cached).toBe(path.join(tmp, 'cache', 'ofp', 'temporal-v1.5.1', 'temporal'));
    expect(findTemporalCli(env)).toBe(cached);

    const onPath = script(path.join(tmp, 'bin', 'temporal'), 'echo path');
    expect(findTemporalCli(env)).toBe(onPath);

    const explicit = script(path.join(tmp, 'explicit', 'temporal'), 'echo explicit');
    expect(findTemporalCli({ ...env, OFP_TEMPORAL_BIN: explicit })).toBe(explicit);
  });

  it('rejects an OFP_TEMPORAL_BIN that is not executable', () => {
    const file = path.join(tmp, 'not-exec');
    fs.writeFileSync(file, '');
    expect(() => findTemporalCli({ OFP_TEMPORAL_BIN: file })).toThrow(
      `OFP_TEMPORAL_BIN=${file} is not an executable file`,
    );
  });
});

describe('ensureTemporalCli', () => {
  it('without obtaining, explains what is missing and the ways out in one line', async () => {
    const env = { PATH: path.join(tmp, 'empty'), XDG_CACHE_HOME: path.join(tmp, 'cache') };
    const err = await ensureTemporalCli({ log, env, obtain: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalCliUnavailableError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toContain('Go >= 1.25');
    expect(msg).toContain('go install github.com/temporalio/cli/cmd/temporal@v1.5.1');
    expect(msg).toContain('TEMPORAL_ADDRESS');
  });

  it('builds with go install into the cache, falling back to another tag when the pinned one fails', async () => {
    // A fake `go`: v1.5.1 "cannot be fetched", v1.4.1 "builds" a binary into $GOBIN.
    const bin = path.join(tmp, 'bin');
    script(
      path.join(bin, 'go'),
      [
        'if [ "$1" = version ]; then echo "go version go1.26.0 linux/amd64"; exit 0; fi',
        'case "$2" in',
        '  *@v1.5.1) echo "go: github.com/temporalio/cli@v1.5.1: module lookup disabled" >&2; exit 1;;',
        '  *@v1.4.1) echo "go: downloading github.com/temporalio/cli v1.4.1" >&2; printf "#!/bin/sh\\necho fake\\n" > "$GOBIN/temporal"; chmod +x "$GOBIN/temporal";;',
        'esac',
      ].join('\n'),
    );
    const env = { PATH: `${bin}:/usr/bin:/bin`, XDG_CACHE_HOME: path.join(tmp, 'cache') };
    const progress = collect();
    const file = await ensureTemporalCli({ log, env, progress: progress.stream });
    expect(file).toBe(path.join(tmp, 'cache', 'ofp', 'temporal-v1.4.1', 'temporal'));
    expect(progress.text()).toContain('module lookup disabled');
    expect(progress.text()).toContain('go: downloading github.com/temporalio/cli v1.4.1');
    expect(progress.text()).toMatch(/built the Temporal CLI v1\.4\.1 in \d+ s/);
    // No temporary GOBIN left behind; the next lookup finds the cached fallback build.
    expect(fs.readdirSync(path.dirname(file))).toEqual(['temporal']);
    expect(findTemporalCli({ PATH: path.join(tmp, 'empty'), XDG_CACHE_HOME: env.XDG_CACHE_HOME })).toBe(file);
  });
});

describe('installTemporal', () => {
  it('prints progress to stderr and the path to stdout', async () => {
    const explicit = script(path.join(tmp, 'temporal'), 'echo "temporal version 9.9.9"');
    const [out, err] = [collect(), collect()];
    const file = await installTemporal({
      log,
      env: { OFP_TEMPORAL_BIN: explicit },
      stdout: out.stream,
      stderr: err.stream,
    });
    expect(file).toBe(explicit);
    expect(out.text()).toBe(`${explicit}\n`);
    expect(err.text()).toContain('temporal version 9.9.9');
  });
});
