/** Stops the servers that global-setup started (in reverse order). */
import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const stops = ((globalThis as Record<string, unknown>).__OFP_TEST_STOPS__ ?? []) as (() => Promise<void>)[];
  for (const stop of [...stops].reverse()) await stop().catch(() => undefined);
  const dir = process.env.OFP_TEST_DATA_DIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
