/**
 * A transcription with a pronunciation assessment of the same audio (issue 16), inside an
 * inference process: the transcription first (its text is the target when none is given), then
 * the assessment and the reference pronunciation, each model run behind the request's turn.
 *
 * English: the phoneme recogniser on the audio (speech/assessment/english.ts). Korean: the
 * target forced through Whisper's decoder against the window the transcription encoded
 * (forced-text.ts), so no second encoder pass; that is one 30 s window, hence Korean's limit.
 */
import type ort from 'onnxruntime-node';
import { AssessmentUnavailableError, type AssessmentRequest, type Transcript } from '../engine.js';
import { isAssessedLanguage, type PronunciationAssessor } from '../assessment/assessor.js';
import { koreanTarget } from '../assessment/korean.js';
import type { Assessment } from '../assessment/types.js';
import { SAMPLE_RATE, WINDOW_SAMPLES } from './features.js';
import { ForcedTextTooLongError, type ForcedTextScorer } from './forced-text.js';
import { AbortedError, type WhisperOptions, type WhisperTranscriber } from './transcriber.js';

export const KOREAN_MAX_SECONDS = WINDOW_SAMPLES / SAMPLE_RATE;

export async function transcribeAndAssess(
  transcriber: WhisperTranscriber,
  scorer: ForcedTextScorer,
  assessor: PronunciationAssessor,
  pcm: Float32Array,
  opts: WhisperOptions,
  request: AssessmentRequest,
): Promise<Transcript> {
  const language = opts.language;
  if (language === undefined) throw new AssessmentUnavailableError('pronunciation assessment needs the language named');
  if (!isAssessedLanguage(language)) throw new AssessmentUnavailableError(`pronunciation assessment does not cover language "${language}"`);
  if (language === 'ko' && pcm.length > WINDOW_SAMPLES) {
    throw new AssessmentUnavailableError(`Korean pronunciation assessment covers up to ${KOREAN_MAX_SECONDS} s of audio`);
  }
  // The first window's cross-attention K/V, for Korean. shortContext off: its padded K/V goes back
  // to a pool when the transcription ends, and this one is used after.
  let cross: ort.Tensor[] | undefined;
  const transcript = await transcriber.transcribe(pcm, {
    ...opts,
    shortContext: false,
    onWindow: language === 'ko' ? async (w) => { cross ??= w.cross; } : undefined,
  });
  const target = request.text ?? transcript.text.trim();
  await opts.turn?.();
  if (opts.signal?.aborted) throw new AbortedError();
  let assessment: Assessment;
  if (language === 'en') {
    assessment = await assessor.english(pcm, target);
  } else {
    const kt = koreanTarget(target);
    if (kt.words.length === 0 || cross === undefined) assessment = { score: 0, words: [] };
    else {
      const forced = await scorer.score(cross, 'ko', kt.text).catch((err: unknown) => {
        if (err instanceof ForcedTextTooLongError) {
          throw new AssessmentUnavailableError(`utterance is ${err.tokens} tokens; Korean assessment takes what one window can hold (${err.maxTokens})`);
        }
        throw err;
      });
      await opts.turn?.();
      assessment = await assessor.korean(kt, forced.tokens);
    }
  }
  if (opts.signal?.aborted) throw new AbortedError();
  let referenceEnvelope: number[] | undefined;
  if (request.reference === true && assessment.words.length > 0) {
    await opts.turn?.();
    referenceEnvelope = await assessor.referenceEnvelope(language, target, opts.signal);
  }
  return { ...transcript, assessment: { assessment, referenceEnvelope } };
}
