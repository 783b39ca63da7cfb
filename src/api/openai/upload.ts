/**
 * Reads an OpenAI audio request's multipart body: the `file` part streams to a private temp file
 * under the size limit (the rest of an oversized upload is never stored), every text field is
 * kept by name. Parts may come in any order; the SDKs send the file first or last.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { fileTooLarge, invalidValue, OpenAIError } from './errors.js';
import type { FormFields } from './params.js';

export interface AudioUpload {
  /** The `file` part on disk; undefined when the request had none. */
  path: string | undefined;
  bytes: number;
  filename: string | undefined;
  fields: FormFields;
  /** Removes the temp file (call once the request is done with it). */
  dispose(): Promise<void>;
}

export async function receiveAudioUpload(request: FastifyRequest, maxBytes: number, fieldBytes: number): Promise<AudioUpload> {
  const dir = await mkdtemp(join(tmpdir(), 'sori-openai-'));
  const fields = new Map<string, string[]>();
  const upload: AudioUpload = { path: undefined, bytes: 0, filename: undefined, fields, dispose: () => rm(dir, { recursive: true, force: true }) };
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || upload.path !== undefined) {
          // Another file part (or a second `file`): read past it, never stored.
          part.file.resume();
          continue;
        }
        const path = join(dir, 'file');
        let bytes = 0;
        part.file.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        await pipeline(part.file as Readable, createWriteStream(path));
        if (part.file.truncated) throw fileTooLarge(maxBytes);
        upload.path = path;
        upload.bytes = bytes;
        upload.filename = part.filename || undefined;
      } else {
        // Over the field size limit busboy cuts the value short: refused rather than used cut.
        if (part.valueTruncated) throw invalidValue(part.fieldname, `${part.fieldname} is longer than the ${fieldBytes} bytes a field may hold`);
        const value = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
        fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), value]);
      }
    }
    return upload;
  } catch (err) {
    await upload.dispose();
    throw uploadError(err);
  }
}

/**
 * An error while the body was read is the client's (a body cut short, a part with broken headers:
 * busboy says so in plain Errors without a code), unless it is already classified, a limit the
 * plugin names (FST_*, classified by toOpenAIError), or our own disk failing (an fs error names
 * its syscall).
 */
function uploadError(err: unknown): unknown {
  if (err instanceof OpenAIError) return err;
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown } | null;
  if (typeof e?.syscall === 'string') return err;
  if (typeof e?.code === 'string' && e.code.startsWith('FST_')) return err;
  const detail = typeof e?.message === 'string' ? `: ${e.message}` : '';
  return new OpenAIError(400, `Malformed or incomplete multipart body${detail}`, { code: 'invalid_value' });
}
