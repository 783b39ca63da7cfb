// The public API, as any client calls it: the domain secret in X-CLOVASPEECH-API-KEY, never in a URL.
const SECRET_KEY = 'sori.secret';

/** @returns {string | null} */
export function secret() {
  return sessionStorage.getItem(SECRET_KEY);
}

/** @param {string | null} value */
export function setSecret(value) {
  if (value === null) sessionStorage.removeItem(SECRET_KEY);
  else sessionStorage.setItem(SECRET_KEY, value);
}

export class ApiError extends Error {
  /** @param {number} status @param {string} message @param {unknown} body */
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/**
 * @param {string} path
 * @param {RequestInit & { key?: string }} [init]
 * @returns {Promise<Response>}
 */
export async function call(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = init.key ?? secret();
  if (key) headers.set('X-CLOVASPEECH-API-KEY', key);
  const res = await fetch(path, { ...init, headers, cache: 'no-store' });
  if (!res.ok) {
    const text = await res.text();
    /** @type {unknown} */
    let body = text;
    try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
    const b = /** @type {{ message?: string, error?: { message?: string } }} */ (body ?? {});
    throw new ApiError(res.status, b.message ?? b.error?.message ?? `${res.status} ${res.statusText}`, body);
  }
  return res;
}

/** @param {string} path @param {RequestInit & { key?: string }} [init] */
export async function json(path, init) {
  return (await call(path, init)).json();
}
