/**
 * Reads a request body into one Buffer under a byte limit, refusing as soon as the limit is
 * known to be exceeded: before reading when Content-Length says so, else at the chunk that
 * crosses it. What the client still sends is then discarded by Node, never buffered.
 */
import type { Readable } from 'node:stream';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

export class BodyIncompleteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BodyIncompleteError';
  }
}

/** The Content-Length header as a number, or undefined when absent or malformed. */
export function declaredLength(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string' || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header);
}

export function readRawBody(stream: Readable, limit: number, expected?: number): Promise<Buffer> {
  if (expected !== undefined && expected > limit) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        cleanup();
        chunks.length = 0;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (expected !== undefined && received !== expected) {
        reject(new BodyIncompleteError(`body has ${received} bytes, Content-Length said ${expected}`));
        return;
      }
      resolve(Buffer.concat(chunks, received));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    // 'close' without 'end': the client went away mid-upload.
    const onClose = () => {
      cleanup();
      reject(new BodyIncompleteError('connection closed before the body was complete'));
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
