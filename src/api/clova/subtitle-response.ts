import Negotiator from 'negotiator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobStatusBody } from '../../clova/longform-result.js';
import { isSubtitleFormat, SUBTITLE_CONTENT_TYPES } from '../../transcript/subtitles/index.js';

/**
 * A finished result asked for with `format` SRT/SMI/VTT carries its file in `subtitle`. A client
 * whose Accept header prefers text (`text/*`, or the format's own type) over JSON gets the file
 * itself as the body; everyone else, JSON. Negotiated with q-values, so axios's default
 * `application/json, text/plain, *\/*` still gets JSON.
 */
export function sendResult(request: FastifyRequest, reply: FastifyReply, body: JobStatusBody): unknown {
  if (body.result !== 'COMPLETED') return body;
  const { subtitle } = body;
  const { format } = body.params;
  if (subtitle === undefined || !isSubtitleFormat(format)) return body;
  const own = SUBTITLE_CONTENT_TYPES[format].split(';')[0];
  const accept = request.headers.accept;
  if (accept === undefined) return body;
  const best = new Negotiator({ headers: { accept } }).mediaType(['application/json', own, 'text/plain']);
  if (best === undefined || best === 'application/json') return body;
  return reply.type(best === 'text/plain' ? 'text/plain; charset=utf-8' : SUBTITLE_CONTENT_TYPES[format]).send(subtitle);
}
