/**
 * Which PostgreSQL failures mean "the server cannot be reached right now" (retry later) rather
 * than "this statement is wrong" (a bug): the first become JobStoreUnavailableError.
 */

/** Socket errors of a connection that could not be opened or was cut. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a server going away or not taking connections: class 08 (connection exception),
 * 57P01-57P03 (shut down by an administrator, crashed, starting up), 53300 (too many connections).
 */
function unavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';
}

/** node-postgres says these in plain Errors without a code (pg-pool and pg's Client). */
const MESSAGES = [
  /^Connection terminated/, /timeout exceeded when trying to connect/i, /Client has encountered a connection error/, /^Connection ended/,
  // Our query_timeout: the server did not answer in time (frozen, or the network cut without a reset).
  /^Query read timeout$/,
];

export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && unavailableSqlState(code)))) return true;
  // Several addresses tried at once (localhost as ::1 and 127.0.0.1): every one refused.
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && MESSAGES.some((m) => m.test(message));
}
