/**
 * The process logger: pino, one JSON line per event. Secrets are redacted by path so that a
 * request or config object logged whole can never leak one.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

/** Every place a secret could sit in an object we log. */
export const REDACT_PATHS: readonly string[] = [
  'req.headers["x-clovaspeech-api-key"]',
  'req.headers.authorization',
  'headers["x-clovaspeech-api-key"]',
  'headers.authorization',
  // A browser's WebSocket sends its secret as a subprotocol (stream/websocket.ts).
  'req.headers["sec-websocket-protocol"]',
  'headers["sec-websocket-protocol"]',
  'secret',
  '*.secret',
  'domains[*].secret',
  '*.domains[*].secret',
  'previousSecrets',
  '*.previousSecrets',
  'domains[*].previousSecrets',
  '*.domains[*].previousSecrets',
  'secretAccessKey',
  '*.secretAccessKey',
  '*.objectStorage.secretAccessKey',
];

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go (default stdout); tests pass a stream to inspect them. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    name: 'sori',
    level: opts.level,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination);
}
