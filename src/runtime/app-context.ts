/** What every OFP process loads first: configuration, the feature policy, the record parser and the bus. */
import { FileEventBus } from '../bus/file-bus';
import { envelopeSchema, payloadSchemas } from '../contracts';
import { RecordParser } from '../core/envelope';
import { loadPolicyFile } from '../core/policy-file';
import type { FeaturePolicy } from '../core/policy';
import { loadConfig, type OfpConfig } from '../config';

export interface AppContext {
  config: OfpConfig;
  policy: FeaturePolicy;
  parser: RecordParser;
  bus: FileEventBus;
}

/** Loads config and policy; a missing or invalid policy throws PolicyError naming file, path and rule. */
export function loadAppContext(env: NodeJS.ProcessEnv = process.env): AppContext {
  const config = loadConfig(env);
  const policy = loadPolicyFile(config.policyPath);
  return {
    config,
    policy,
    parser: new RecordParser({ envelopeSchema, payloadSchemas }),
    bus: new FileEventBus(config.busRoot),
  };
}
