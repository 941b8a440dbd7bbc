/**
 * Static checks of the production deployment files (no Docker engine is available to run them): docker-compose.yml
 * wires only variables the code reads, sets what a production run requires, and the Dockerfile starts a file that
 * the build emits.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import YAML from 'yaml';
import { CONFIG_VARIABLES } from '../../src/config';

const root = path.resolve(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { target: number; published?: number | string })[];
  volumes?: (string | { source?: string; target: string })[];
  healthcheck?: { test: string | string[] };
  depends_on?: string[] | Record<string, { condition?: string }>;
}

const compose = YAML.parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const ofpServices = Object.keys(services).filter((name) => name.startsWith('ofp-'));

function env(service: Service): Record<string, string> {
  const raw = service.environment ?? {};
  if (Array.isArray(raw)) {
    return Object.fromEntries(raw.map((kv) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** `${VAR:?msg}` / `${VAR:-default}` interpolations replaced by a placeholder, as compose would with values set. */
const interpolate = (value: string) => value.replace(/\$\{[^}]*\}/g, 'x');

const healthText = (service: Service) => [service.healthcheck?.test ?? []].flat().join(' ');

function dependsOn(service: Service): Record<string, string | undefined> {
  const d = service.depends_on ?? {};
  return Array.isArray(d)
    ? Object.fromEntries(d.map((n) => [n, undefined]))
    : Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v?.condition]));
}

function volumeTargets(service: Service): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of service.volumes ?? []) {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      out.set(target, source);
    } else out.set(v.target, v.source ?? '');
  }
  return out;
}

describe('docker-compose.yml', () => {
  it('has the production services', () => {
    for (const name of ['postgres', 'temporal', 'temporal-ui', 'ofp-migrate', 'ofp-worker', 'ofp-gateway']) {
      expect(services).toHaveProperty([name]);
    }
    expect(services.postgres.image).toMatch(/^postgres:16/);
    expect(healthText(services.postgres)).toContain('pg_isready');
    expect(services.temporal.image).toMatch(/^temporalio\/auto-setup:/);
    expect(env(services.temporal)).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(healthText(services.temporal)).not.toBe('');
    expect(services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
    expect(services['temporal-ui'].ports).toContain('8233:8080');
  });

  it('gives ofp-* services only variables that src/config.ts reads', () => {
    const known = new Set<string>(CONFIG_VARIABLES);
    for (const name of ofpServices) {
      const unknown = Object.keys(env(services[name])).filter((k) => !known.has(k));
      expect({ service: name, unknown }).toEqual({ service: name, unknown: [] });
    }
  });

  it('sets DATABASE_URL and TEMPORAL_ADDRESS on worker and gateway, pointing at the compose services', () => {
    for (const name of ['ofp-worker', 'ofp-gateway']) {
      const e = env(services[name]);
      expect(e.DATABASE_URL).toBeTruthy();
      expect(e.TEMPORAL_ADDRESS).toBeTruthy();
      const db = new URL(interpolate(e.DATABASE_URL));
      expect(db.protocol).toBe('postgresql:');
      expect(db.hostname).toBe('postgres');
      expect(db.pathname).toBe(`/${env(services.postgres).POSTGRES_DB}`);
      expect(e.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(e.TEMPORAL_NAMESPACE ?? 'default').toBe(env(services.temporal).DEFAULT_NAMESPACE ?? 'default');
    }
    expect(env(services['ofp-migrate']).DATABASE_URL).toBe(env(services['ofp-worker']).DATABASE_URL);
  });

  it('publishes the gateway on OFP_HTTP_PORT and checks /readyz there', () => {
    const gateway = services['ofp-gateway'];
    const port = env(gateway).OFP_HTTP_PORT;
    expect(port).toMatch(/^\d+$/);
    const targets = (gateway.ports ?? []).map((p) =>
      typeof p === 'string' ? p.split(':').pop()!.split('/')[0] : String(p.target),
    );
    expect(targets).toContain(port);
    expect(healthText(gateway)).toContain(`:${port}/readyz`);
  });

  it('shares the bus volume at OFP_BUS_ROOT between worker and gateway', () => {
    const sources = ['ofp-worker', 'ofp-gateway'].map((name) => {
      const busRoot = env(services[name]).OFP_BUS_ROOT;
      expect(busRoot).toBeTruthy();
      return volumeTargets(services[name]).get(busRoot);
    });
    expect(sources[0]).toBeTruthy();
    expect(sources[1]).toBe(sources[0]);
    expect(compose.volumes).toHaveProperty([sources[0]!]);
  });

  it('orders startup: migrate after PostgreSQL is healthy; worker and gateway after migrate and Temporal', () => {
    expect(dependsOn(services['ofp-migrate'])).toMatchObject({ postgres: 'service_healthy' });
    expect(dependsOn(services.temporal)).toMatchObject({ postgres: 'service_healthy' });
    for (const name of ['ofp-worker', 'ofp-gateway']) {
      expect(dependsOn(services[name])).toMatchObject({
        'ofp-migrate': 'service_completed_successfully',
        temporal: 'service_healthy',
      });
    }
  });

  it('runs the three roles of the image built from the Dockerfile', () => {
    expect(services['ofp-migrate'].command).toEqual(['db', 'migrate']);
    expect(services['ofp-worker'].command).toEqual(['worker']);
    expect(services['ofp-gateway'].command).toEqual(['serve']);
    for (const name of ofpServices) {
      const build = services[name].build;
      const context = typeof build === 'string' ? build : build?.context;
      const dockerfile = (typeof build === 'object' && build.dockerfile) || 'Dockerfile';
      expect(context).toBe('.');
      expect(fs.existsSync(path.join(root, context!, dockerfile))).toBe(true);
    }
  });
});

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  // Instructions of the last stage (the image that runs), continuation lines joined.
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  const lastFrom = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  const finalStage = lines.slice(lastFrom);
  const instruction = (name: string) =>
    finalStage
      .filter((l) => l.toUpperCase().startsWith(`${name} `))
      .map((l) => l.slice(name.length + 1).trim());

  it('builds with npm ci and npm run build', () => {
    expect(text).toMatch(/RUN npm ci\b/);
    expect(text).toMatch(/npm run build\b/);
  });

  it('starts a file that `tsc -p tsconfig.build.json` emits', () => {
    const entrypoint = JSON.parse(instruction('ENTRYPOINT').pop() ?? '[]') as string[];
    const cmd = JSON.parse(instruction('CMD').pop() ?? '[]') as string[];
    const argv = [...entrypoint, ...cmd];
    expect(argv[0]).toBe('node');
    const script = argv.find((a) => a.endsWith('.js'));
    expect(script).toBe('dist/src/cli/main.js');

    const workdir = instruction('WORKDIR').pop();
    expect(workdir).toBe('/app');

    // What tsc would emit for src/cli/main.ts under tsconfig.build.json, computed by TypeScript itself.
    const configFile = path.join(root, 'tsconfig.build.json');
    const read = ts.readConfigFile(configFile, (f) => ts.sys.readFile(f));
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configFile);
    const source = path.join(root, 'src', 'cli', 'main.ts');
    expect(parsed.fileNames.map((f) => path.resolve(f))).toContain(source);
    const outputs = ts.getOutputFileNames(parsed, source, false);
    expect(outputs.map((f) => path.relative(root, f))).toContain(script);
  });

  it('sets only environment variables the code reads (or NODE_ENV, NODE_OPTIONS)', () => {
    const names = instruction('ENV').flatMap((l) => [...l.matchAll(/([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1]));
    const allowed = new Set<string>([...CONFIG_VARIABLES, 'NODE_ENV', 'NODE_OPTIONS']);
    expect(names.filter((n) => !allowed.has(n))).toEqual([]);
  });
});
