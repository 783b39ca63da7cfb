/**
 * CLOVA Speech short-recognition errors (spec section 1): the HTTP status, errorCode and
 * message of every row, and the one body shape they all share.
 */

export interface ShortErrorSpec {
  readonly status: number;
  readonly errorCode: string;
  readonly message: string;
}

export const SHORT_ERRORS = {
  badParams: { status: 400, errorCode: '400', message: 'Invalid request parameters' },
  badSecret: { status: 401, errorCode: '401', message: 'Invalid secret' },
  tooLong: { status: 413, errorCode: 'STT001', message: 'Exceed Sound Data length' },
  badContentType: { status: 400, errorCode: 'STT002', message: 'Invalid Content Type' },
  emptySound: { status: 400, errorCode: 'STT003', message: 'Empty Sound Data' },
  emptyLanguage: { status: 400, errorCode: 'STT004', message: 'Empty Language' },
  invalidLanguage: { status: 400, errorCode: 'STT005', message: 'Invalid Language' },
  preprocessing: { status: 500, errorCode: 'STT006', message: 'Failed to pre-processing' },
  /**
   * Sori's addition to CLOVA's table: the engine queue is full, or the domain is over its request
   * rate. CLOVA documents no busy answer for short recognition; clients retrying on 503 +
   * Retry-After is the least surprising choice.
   */
  busy: { status: 503, errorCode: 'STT007', message: 'Server Busy' },
  /**
   * Sori's addition, in the same series as STT007: this client address presented too many wrong
   * secrets lately; answered with Retry-After, without the secret being checked.
   */
  throttled: { status: 429, errorCode: 'STT008', message: 'Too Many Failed Authentications' },
  sttFailed: { status: 500, errorCode: 'STT998', message: 'Failed to STT' },
  internal: { status: 500, errorCode: 'STT999', message: 'Internal Server Error' },
} as const satisfies Record<string, ShortErrorSpec>;

export type ShortErrorKind = keyof typeof SHORT_ERRORS;

export interface ShortErrorBody {
  timestamp: number;
  error: { errorCode: string; message: string };
}

/** Thrown anywhere on the short route; the route's error handler turns it into the body. */
export class ClovaShortError extends Error {
  readonly kind: ShortErrorKind;
  readonly statusCode: number;
  /** Seconds for the Retry-After header, when the client should come back later. */
  readonly retryAfterSeconds: number | undefined;

  constructor(kind: ShortErrorKind, detail?: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(detail ?? SHORT_ERRORS[kind].message, options);
    this.name = 'ClovaShortError';
    this.kind = kind;
    this.statusCode = SHORT_ERRORS[kind].status;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

export function shortErrorBody(kind: ShortErrorKind, now: number = Date.now()): ShortErrorBody {
  const spec = SHORT_ERRORS[kind];
  return { timestamp: now, error: { errorCode: spec.errorCode, message: spec.message } };
}
