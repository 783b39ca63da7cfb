/**
 * OpenAI's error answers: `{"error": {"message", "type", "param", "code"}}` with OpenAI's status
 * codes, and the classification of everything a request can fail with into one of them. The
 * client's mistakes (bad fields, bad media, unknown model) are 4xx; only Sori's own failures 5xx.
 */
import { MediaError } from '../../media/decode.js';
import { EngineBusyError, EngineFailedError, UnsupportedLanguageError } from '../../speech/engine.js';
import { TranscriptionAbortedError } from '../../speech/index.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface OpenAIErrorOptions {
  type?: string;
  param?: string | null;
  code?: string | null;
  /** Sent as Retry-After (throttled client, engine queue full). */
  retryAfterSeconds?: number;
}

export class OpenAIError extends Error {
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly retryAfterSeconds: number | undefined;

  constructor(readonly status: number, message: string, opts: OpenAIErrorOptions = {}) {
    super(message);
    this.name = 'OpenAIError';
    this.type = opts.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = opts.param ?? null;
    this.code = opts.code === undefined ? null : opts.code;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A field the request must have. */
export function missingParameter(param: string, message = `you must provide a ${param} parameter`): OpenAIError {
  return new OpenAIError(400, message, { param, code: 'missing_required_parameter' });
}

/** A field with a value of the wrong type or out of range. */
export function invalidValue(param: string, message: string): OpenAIError {
  return new OpenAIError(400, message, { param, code: 'invalid_value' });
}

export function modelNotFound(model: string): OpenAIError {
  return new OpenAIError(404, `The model \`${model}\` does not exist or is not installed on this server`, { param: 'model', code: 'model_not_found' });
}

export function fileTooLarge(maxBytes: number): OpenAIError {
  return new OpenAIError(413, `Maximum content size limit (${maxBytes}) exceeded`, { param: 'file', code: 'file_too_large' });
}

/** Limits of the multipart plugin (fields, parts, files) other than the file's size. */
const MULTIPART_LIMIT_CODES = new Set(['FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT']);

/**
 * What any failure of an OpenAI route answers: the client's mistakes 4xx (errors of the multipart
 * body itself are classified where it is read, upload.ts), anything unclassified 500.
 */
export function toOpenAIError(err: unknown, limits: { maxBytes: number; maxSeconds: number }): OpenAIError {
  if (err instanceof OpenAIError) return err;
  if (err instanceof MediaError) {
    if (err.kind === 'too-long') {
      return new OpenAIError(400, `The audio is longer than ${limits.maxSeconds} s, the longest this server transcribes`, { param: 'file', code: 'audio_too_long' });
    }
    const what = err.kind === 'empty' ? 'The file holds no audio' : err.kind === 'no-audio' ? 'The file has no audio stream' : 'The file could not be decoded as audio or video';
    return new OpenAIError(400, `${what} (${err.message})`, { param: 'file', code: 'invalid_file_format' });
  }
  if (err instanceof UnsupportedLanguageError) return invalidValue('language', err.message);
  if (err instanceof EngineBusyError) {
    return new OpenAIError(503, 'The server is busy with other recognitions; retry shortly', { code: 'server_busy', retryAfterSeconds: 1 });
  }
  if (err instanceof EngineFailedError) return new OpenAIError(500, `Recognition failed: ${err.message}`);
  if (err instanceof TranscriptionAbortedError) return new OpenAIError(499, 'The client closed the request');
  const e = err as { code?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return fileTooLarge(limits.maxBytes);
  if (code !== undefined && MULTIPART_LIMIT_CODES.has(code)) return new OpenAIError(400, 'Too many parts in the multipart body', { code: 'invalid_value' });
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
    return new OpenAIError(400, 'The request must be multipart/form-data with a `file` part', { code: 'invalid_content_type' });
  }
  if (code === 'FST_MULTIPART_MISSING_BOUNDARY') return new OpenAIError(400, 'The multipart body has no boundary', { code: 'invalid_content_type' });
  if (code === 'FST_PROTO_VIOLATION') return new OpenAIError(400, 'A form field may not be named after an Object property', { code: 'invalid_value' });
  if (code === 'FST_INVALID_JSON_FIELD_ERROR') return new OpenAIError(400, 'A form field typed application/json is not valid JSON', { code: 'invalid_value' });
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return new OpenAIError(400, 'Content-Length does not match the body', { code: 'invalid_value' });
  if (code !== undefined && code.startsWith('FST_ERR_CTP')) return new OpenAIError(400, 'The request body could not be read', { code: 'invalid_value' });
  return new OpenAIError(500, 'Internal server error');
}
