/**
 * Which HTTP requests the fast path may answer at all: exactly those Apollo Server 5 would take as they are, before
 * any GraphQL work (runHttpQuery's POST body checks, CSRF prevention). Anything else is declined, and Apollo gives
 * its own answer (usually a 400).
 */

/** A POST /graphql request as the gateway read it. */
export interface FastPathHttpRequest {
  /** The JSON-parsed body (undefined when there was none). */
  body: unknown;
  /** The `content-type` header. */
  contentType: string | undefined;
  /** The `accept` header. */
  accept: string | undefined;
}

/** The GraphQL request inside an acceptable HTTP request. */
export interface FastPathOperationRequest {
  query: string;
  /** The `variables` object; undefined when absent or null (Apollo treats both alike). */
  variables: Record<string, unknown> | undefined;
  /** The `operationName`; undefined when absent or null (Apollo treats both alike). */
  operationName: string | undefined;
}

const JSON_ESSENCE = 'application/json';

/**
 * Whether Apollo's CSRF prevention lets this content type through without a preflight header. Apollo blocks only
 * the three "simple" essences (text/plain, application/x-www-form-urlencoded, multipart/form-data) and a missing
 * header; any value starting with `application/json` either parses to an essence starting so, or does not parse
 * at all, and both pass. Anything else (leading whitespace, other types) is left to Apollo: rare, and never wrong.
 */
function passesCsrfPrevention(contentType: string | undefined): boolean {
  return (
    contentType !== undefined &&
    contentType.length >= JSON_ESSENCE.length &&
    contentType.slice(0, JSON_ESSENCE.length).toLowerCase() === JSON_ESSENCE
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The operation request when Apollo would accept this HTTP request unchanged, else undefined. */
export function operationRequestOf(req: FastPathHttpRequest): FastPathOperationRequest | undefined {
  if (!passesCsrfPrevention(req.contentType)) return undefined;
  const body = req.body;
  if (!isRecord(body)) return undefined;
  const { query, variables, operationName } = body;
  // An empty query is an error in Apollo; persisted queries and other extensions change what Apollo does.
  if (typeof query !== 'string' || query === '' || 'extensions' in body) return undefined;
  if (variables !== undefined && variables !== null && !isRecord(variables)) return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string')
    return undefined;
  return {
    query,
    variables: variables ?? undefined,
    operationName: operationName ?? undefined,
  };
}
