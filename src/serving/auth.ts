/**
 * Bearer-token authentication with two roles: `reader` (features, health, policy) and `operator` (also mutations).
 * Tokens come from OFP_TOKENS (`reader:abc,operator:xyz`); without it, demo tokens are generated and printed.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export type Role = 'reader' | 'operator';

export class TokenConfigError extends Error {
  override name = 'TokenConfigError';
}

export interface TokenTable {
  tokens: { role: Role; token: string }[];
  /** True when the tokens were generated for this process (demo). */
  generated: boolean;
}

export function parseTokens(spec: string | undefined): TokenTable {
  if (!spec) {
    return {
      generated: true,
      tokens: [
        { role: 'reader', token: `reader-${randomBytes(12).toString('hex')}` },
        { role: 'operator', token: `operator-${randomBytes(12).toString('hex')}` },
      ],
    };
  }
  const tokens = spec.split(',').map((pair, i) => {
    const at = pair.indexOf(':');
    const role = pair.slice(0, at).trim();
    const token = pair.slice(at + 1).trim();
    if (at < 0 || (role !== 'reader' && role !== 'operator') || token.length < 8) {
      throw new TokenConfigError(
        `OFP_TOKENS entry ${i + 1}: expected role:token with role reader or operator and a token of 8+ characters`,
      );
    }
    return { role: role as Role, token };
  });
  return { tokens, generated: false };
}

/** Returns the role of a bearer token, or null when it is missing or unknown (constant-time comparison). */
export function authenticate(table: TokenTable, authorization: string | undefined): Role | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return null;
  const given = Buffer.from(m[1]);
  let role: Role | null = null;
  for (const t of table.tokens) {
    const want = Buffer.from(t.token);
    if (want.length === given.length && timingSafeEqual(want, given))
      role = role === 'operator' ? role : t.role;
  }
  return role;
}

export function tokenFor(table: TokenTable, role: Role): string | undefined {
  return table.tokens.find((t) => t.role === role)?.token;
}
