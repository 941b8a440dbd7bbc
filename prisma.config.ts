/**
 * Prisma CLI configuration. Prisma 6.19 with the JavaScript schema engine and the node-postgres driver adapter runs
 * fully offline (Prisma 7's CLI downloads a native engine on every run, which these machines cannot reach).
 */
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { OfflinePrismaPg, poolConfigFromUrl } from './src/db/prisma-adapter-workarounds';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    const url = process.env.DATABASE_URL;
    if (!url)
      throw new Error(
        'DATABASE_URL is not set: run migrations through `ofp db migrate`, which starts or finds the database',
      );
    // Workarounds for two adapter-pg 6.19 bugs on this path: see src/db/prisma-adapter-workarounds.ts.
    return new OfflinePrismaPg(poolConfigFromUrl(url));
  },
});
