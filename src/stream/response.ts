/**
 * CLOVA's streaming responses (the JSON a NestResponse carries in `contents`), built from what a
 * stream decoded: the config acknowledgement, errors, and partial and final transcriptions with
 * their words, timings, confidence and sentence ends. Pure functions.
 */
import type { Transcript } from '../speech/engine.js';
import { toSimplified } from '../transcript/chinese.js';
import type { EpdType } from './end-pointing.js';
import { periodAlignIndices, periodPositions } from './epd-text.js';
import type { ConfigAck } from '../clova/stream-config.js';

/** Forbidden-word masking (see forbiddenMatcher). */
export type Mask = (text: string) => string;

export function configResponse(uid: string, ack: ConfigAck): Record<string, unknown> {
  return { uid, responseType: ['config'], config: ack };
}

/** A `recognize` response: a malformed CONFIG ('Invalid format'), or a failure ('Internal error'). */
export function recognizeError(uid: string, status: 'Invalid format' | 'Internal error', message?: string): Record<string, unknown> {
  return { uid, responseType: ['recognize'], recognize: message === undefined ? { status } : { status, message } };
}

/** The text sent for the engine's text: trimmed, Simplified for Chinese, forbidden words masked. */
export function responseText(text: string, language: string, mask: Mask | undefined): string {
  let t = text.trim();
  if (language === 'zh') t = toSimplified(t);
  return mask === undefined ? t : mask(t);
}

/** A final result is sent unless it is empty and empty finals are skipped (or it is not the client's end-point). */
export function sendsFinal(text: string, epdType: EpdType, skipEmptyText: boolean): boolean {
  return text !== '' || (!skipEmptyText && epdType === 'endPoint');
}

export interface TranscriptionFields {
  uid: string;
  /** The text sent (see responseText). */
  text: string;
  /** The utterance's audio in stream time (ms): start and end where there are no word timings. */
  startMs: number;
  endMs: number;
  /** A final result (epFlag, word timings) or a partial one. */
  final: boolean;
  /** Why the utterance ended; '' for a partial. */
  epdType: EpdType | '';
  /** The engine's result (keyword-corrected); its words' times are relative to startMs. */
  transcript: Transcript | undefined;
  seqId: number;
  /** Characters of final text sent before this one (CLOVA's `position`). */
  position: number;
  mask: Mask | undefined;
}

/**
 * A `transcription` response. A final one carries its words (masked, in stream time, with
 * confidences) and, for each sentence end in the text, the word holding it; its timestamps are
 * its first and last words'. Confidence: the words' mean, or without words the geometric mean
 * of the segments' token probabilities.
 */
export function transcriptionResponse(f: TranscriptionFields): Record<string, unknown> {
  const words = f.final ? (f.transcript?.segments.flatMap((s) => s.words ?? []) ?? []) : [];
  const alignInfos = words
    .filter((w) => w.text.trim() !== '')
    .map((w) => ({
      word: f.mask === undefined ? w.text.trim() : f.mask(w.text.trim()),
      start: f.startMs + Math.round(w.start * 1000),
      end: f.startMs + Math.round(w.end * 1000),
      confidence: Math.round(w.probability * 1000) / 1000,
    }));
  const periods = periodPositions(f.text);
  const logProbs = f.transcript?.segments.map((s) => s.avgLogProb) ?? [];
  const confidence = alignInfos.length > 0
    ? alignInfos.reduce((a, w) => a + w.confidence, 0) / alignInfos.length
    : logProbs.length > 0 ? Math.exp(logProbs.reduce((a, b) => a + b, 0) / logProbs.length) : 0;
  return {
    uid: f.uid,
    responseType: ['transcription'],
    transcription: {
      text: f.text,
      position: f.position,
      periodPositions: periods,
      periodAlignIndices: f.final ? periodAlignIndices(f.text, alignInfos.map((w) => w.word), periods) : [],
      epFlag: f.final,
      seqId: f.seqId,
      epdType: f.epdType,
      startTimestamp: alignInfos[0]?.start ?? f.startMs,
      endTimestamp: alignInfos.at(-1)?.end ?? f.endMs,
      confidence: Math.round(confidence * 1000) / 1000,
      alignInfos,
    },
  };
}
