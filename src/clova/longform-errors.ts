/**
 * CLOVA Speech long-form errors (spec section 2, "Errors"): one body shape
 * `{result, message, token}` and an HTTP status per code.
 */

export const LONGFORM_ERRORS = {
  ERROR_INVALID_SECRET: 401,
  ERROR_PARAMS_FORMAT_INVALID: 400,
  ERROR_REQUEST_PARAMETER: 400,
  ERROR_AUDIO_EMPTY: 400,
  ERROR_AUDIO_CONVERSION: 400,
  ERROR_TOKEN_INVALID: 404,
  ERROR_DATA_NOT_FOUND: 404,
  ERROR_TOO_MANY_JOBS: 429,
  ERROR_SERVER_BUSY: 503,
  ERROR_GATEWAY_TIMEOUT: 504,
  ERROR_EXTERNAL_ERROR: 502,
  ERROR_DATA_CONFLICT: 409,
  ERROR_INTERNAL_ERROR: 500,
} as const;

export type LongformErrorCode = keyof typeof LONGFORM_ERRORS;

export interface LongformErrorBody {
  result: LongformErrorCode;
  message: string;
  token: string;
}

export class LongformError extends Error {
  readonly code: LongformErrorCode;
  /** Overrides the table's status where a more precise one fits (413 for a too-large upload). */
  readonly status: number;
  /** Seconds for a Retry-After header (refusals that a later retry can pass). */
  readonly retryAfterS: number | undefined;

  constructor(code: LongformErrorCode, message: string, status?: number, retryAfterS?: number) {
    super(message);
    this.name = 'LongformError';
    this.code = code;
    this.status = status ?? LONGFORM_ERRORS[code];
    this.retryAfterS = retryAfterS;
  }

  body(token = ''): LongformErrorBody {
    return { result: this.code, message: this.message, token };
  }
}

export function isLongformErrorCode(code: string): code is LongformErrorCode {
  return code in LONGFORM_ERRORS;
}
