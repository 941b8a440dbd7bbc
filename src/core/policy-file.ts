/**
 * Loads the feature policy file (SPEC 3, `OFP_POLICY`). The only I/O around the pure `parsePolicy`: a file that is
 * missing or unreadable is a PolicyError like any other, so the process stops at start with one kind of message.
 */
import { readFileSync } from 'node:fs';
import { PolicyError, parsePolicy } from './policy';
import type { FeaturePolicy } from './policy';

/**
 * Reads and validates the policy at `path`; errors name the file as given (relative paths stay readable in logs).
 * @throws PolicyError with rule `file not found` when the file does not exist, or any rule `parsePolicy` enforces
 */
export function loadPolicyFile(path: string): FeaturePolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PolicyError(path, '(file)', 'file not found');
    throw new PolicyError(path, '(file)', `cannot read file: ${code ?? (err as Error).message}`);
  }
  // A leading byte-order mark is an editor artefact, not content: it must not change the digest or the parse.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return parsePolicy(text, path);
}
