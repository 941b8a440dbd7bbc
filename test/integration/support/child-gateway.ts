/**
 * `node bin/ofp serve` as a child process, for tests that must see whether the gateway process itself survives (an
 * unhandled 'error' event would end it). It listens on a free port (OFP_HTTP_PORT=0); its URL is read from its own
 * "gateway listening" log line. Its stdout and stderr go to a log file whose tail explains a failure.
 */
import path from 'node:path';
import { childDir, REPO_ROOT, spawnOfp, type ChildOfp } from './child-ofp';

export interface ChildGatewayOptions {
  databaseUrl: string;
  busRoot: string;
  /** `role:token,...` (OFP_TOKENS). */
  tokens: string;
  policyPath?: string;
  /** How long to wait for the gateway to listen. Default 90 s (tsx compiles the sources first). */
  startTimeoutMs?: number;
}

export interface ChildGateway extends ChildOfp {
  url: string;
}

export async function startChildGateway(o: ChildGatewayOptions): Promise<ChildGateway> {
  const dir = childDir('gateway');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    OFP_BUS_ROOT: o.busRoot,
    OFP_DATA_DIR: dir,
    OFP_POLICY: o.policyPath ?? path.join(REPO_ROOT, 'config/features.yaml'),
    OFP_TOKENS: o.tokens,
    OFP_HTTP_PORT: '0',
    OFP_HTTP_HOST: '127.0.0.1',
    OFP_LOG_LEVEL: 'info',
    OFP_LOG_PRETTY: '0',
  };
  // Operator mutations are not under test: no Temporal, so the gateway needs only PostgreSQL.
  delete env.TEMPORAL_ADDRESS;
  const child = spawnOfp('serve', 'gateway', dir, env);

  const deadline = Date.now() + (o.startTimeoutMs ?? 90_000);
  let url: string | undefined;
  while (url === undefined) {
    for (const line of child.logText().split('\n')) {
      if (!line.includes('gateway listening')) continue;
      const logged = (JSON.parse(line) as { url: string }).url;
      url = logged.replace(/\/graphql$/, '');
    }
    if (url !== undefined) break;
    const exit = child.exitStatus();
    if (exit)
      throw new Error(
        `the child gateway exited (${JSON.stringify(exit)}) before listening:\n${child.logTail()}`,
      );
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`the child gateway did not listen in time:\n${child.logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...child, url };
}
