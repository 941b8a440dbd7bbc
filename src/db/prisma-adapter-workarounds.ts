/**
 * Two small, deliberate workarounds for @prisma/adapter-pg 6.19 on the offline migrate path (ENVIRONMENT.md).
 * Remove them when moving to an adapter version that fixes the upstream bugs.
 */
import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import type { PoolConfig } from 'pg';

type Queryable = { performIO: (query: unknown) => Promise<{ fields?: { dataTypeID: number }[] }> };

const PG_NAME_OID = 19;
const PG_TEXT_OID = 25;
let patched = false;

/**
 * Upstream bug prisma/prisma#27403: adapter-pg 6.19 cannot map PostgreSQL's `name` column type, so the schema
 * engine's catalog queries fail with "Column type 'name' could not be deserialized". `name` values already arrive as
 * strings; we report the column as `text`, which is what adapter-pg 7 does.
 */
function patchNameColumnType(adapter: object): void {
  if (patched) return;
  let proto: object | null = Object.getPrototypeOf(adapter);
  while (proto && !Object.prototype.hasOwnProperty.call(proto, 'performIO'))
    proto = Object.getPrototypeOf(proto);
  if (!proto) return;
  const target = proto as Queryable;
  const original = target.performIO;
  target.performIO = async function (this: unknown, query: unknown) {
    const result = await original.call(this, query);
    for (const field of result?.fields ?? [])
      if (field.dataTypeID === PG_NAME_OID) field.dataTypeID = PG_TEXT_OID;
    return result;
  };
  patched = true;
}

/** Pool settings as separate fields (a connectionString would override `database`, see OfflinePrismaPg). */
export function poolConfigFromUrl(url: string): PoolConfig {
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname),
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
    max: 4,
  };
}

/**
 * adapter-pg factory with both workarounds: the `name` column type, and a shadow database for `migrate dev` that
 * (a) really is another database and (b) is dropped only after its own pool is closed (upstream drops it first and
 * fails with "database ... is being accessed by other users").
 */
export class OfflinePrismaPg extends PrismaPg {
  constructor(private readonly poolConfig: PoolConfig) {
    super(poolConfig);
  }

  override async connect(): ReturnType<PrismaPg['connect']> {
    const adapter = await super.connect();
    patchNameColumnType(adapter);
    return adapter;
  }

  override async connectToShadowDb(): ReturnType<PrismaPg['connectToShadowDb']> {
    const main = await this.connect();
    const database = `prisma_migrate_shadow_db_${randomUUID()}`;
    await main.executeScript(`CREATE DATABASE "${database}"`);
    const shadow = await new OfflinePrismaPg({ ...this.poolConfig, database }).connect();
    const disposeShadow = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await disposeShadow();
      await main.executeScript(`DROP DATABASE IF EXISTS "${database}"`);
      await main.dispose();
    };
    return shadow;
  }
}
