/**
 * A transcription with a pronunciation assessment of the same audio (issue 16), inside an
 * inference process: the transcription first (its text is the target when none is given), then
 * the assessment and the reference pronunciation, each model run behind the request's turn.
 */
import { AssessmentUnavailableError, type AssessmentRequest, type Transcript } from '../engine.js';
import { isAssessedLanguage, type PronunciationAssessor } from '../assessment/assessor.js';
import type { WhisperOptions, WhisperTranscriber } from './transcriber.js';

export async function transcribeAndAssess(
  transcriber: WhisperTranscriber,
  assessor: PronunciationAssessor,
  pcm: Float32Array,
  opts: WhisperOptions,
  request: AssessmentRequest,
): Promise<Transcript> {
  const language = opts.language;
  if (!isAssessedLanguage(language)) throw new AssessmentUnavailableError(`pronunciation assessment does not cover language "${language}"`);
  const transcript = await transcriber.transcribe(pcm, opts);
  const target = request.text ?? transcript.text.trim();
  await opts.turn?.();
  if (language !== 'en') throw new AssessmentUnavailableError('Korean assessment is not wired yet');
  const assessment = await assessor.english(pcm, target);
  opts.signal?.throwIfAborted();
  let referenceEnvelope: number[] | undefined;
  if (request.reference === true && assessment.words.length > 0) {
    await opts.turn?.();
    referenceEnvelope = await assessor.referenceEnvelope(language, target, opts.signal);
  }
  return { ...transcript, assessment: { assessment, referenceEnvelope } };
}
