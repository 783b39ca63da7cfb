import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Text to IPA with Debian's `espeak-ng` (scripts/install.sh installs it), as Piper voices expect
 * (`"phoneme_type": "espeak"`, `"espeak": {"voice": "en-us"}` in the voice's `.onnx.json`).
 *
 * The command line is `espeak-ng -q --ipa -v <voice> <text>`, run with execFile (no shell; the
 * text is one argument after `--`). Plain `--ipa` writes phonemes without separators or tie bars,
 * which is what Piper gets from espeak's library (Piper then splits it into code points). espeak
 * writes one line per clause and drops punctuation; Piper keeps the clause punctuation, so the
 * clauses of a sentence are joined with ", " and the sentence gets its own final `.`, `!` or `?`.
 *
 * Sentences are split here, before espeak, at `.`, `!` or `?` followed by white space or the end
 * (so "3.5" stays whole; an abbreviation such as "Mr. Smith" splits, which only adds a pause).
 */

const run = promisify(execFile);

export interface PhonemizedSentence {
  /** The sentence as given to espeak-ng. */
  text: string;
  /** Its IPA, clauses joined with ", ", ending in the sentence's punctuation. */
  ipa: string;
}

export interface PhonemizeOptions {
  /** espeak-ng voice (default `en-us`). */
  voice?: string;
  /** The espeak-ng executable (default `espeak-ng` on PATH). */
  command?: string;
  signal?: AbortSignal;
}

/** Sentences of `text` with their final punctuation, white space collapsed, empty ones dropped. */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+/)
    .map((sentence) => sentence.replace(/\s+/g, ' ').trim())
    .filter((sentence) => /[\p{L}\p{N}]/u.test(sentence));
}

function finalPunctuation(sentence: string): string {
  const last = /[.!?]+$/.exec(sentence)?.[0];
  if (!last) return '.';
  return last.includes('?') ? '?' : last.includes('!') ? '!' : '.';
}

/** IPA of each sentence of `text`, in order (one espeak-ng run per sentence). */
export async function phonemize(text: string, opts: PhonemizeOptions = {}): Promise<PhonemizedSentence[]> {
  const { voice = 'en-us', command = 'espeak-ng', signal } = opts;
  const result: PhonemizedSentence[] = [];
  for (const sentence of splitSentences(text)) {
    const { stdout } = await run(command, ['-q', '--ipa', '-v', voice, '--', sentence], { signal, encoding: 'utf8', maxBuffer: 4 << 20 });
    const clauses = stdout
      .split('\n')
      .map((line) => line.trim().replace(/\s+/g, ' '))
      .filter((line) => line.length > 0);
    if (clauses.length === 0) continue;
    result.push({ text: sentence, ipa: clauses.join(', ') + finalPunctuation(sentence) });
  }
  return result;
}
