/**
 * A Korean word's standard pronunciation in IPA, one string per written syllable, from hama's G2P
 * (src/speech/phonemes/g2p.ts; pure here: it takes the G2P's output). The G2P applies the
 * standard-pronunciation rules (nasalisation 국물 -> kuŋmul, liquidisation 신라 -> silla,
 * palatalisation 같이 -> kat͡ɕʰi, tensing 학교 -> hakk͈jo, linking 생각을 -> sɛŋgagɯl) and links each
 * phoneme to the syllable it came from; most rules are right, some cluster codas are not
 * (맑고 -> makk͈o instead of malk͈o).
 *
 * Three choices made here:
 *
 * - Syllables as pronounced: the phonemes are re-syllabified around the vowels (one vowel per
 *   Hangul syllable): a consonant between two vowels is the onset of the second, of two consonants
 *   the first is the coda of the first. So 같이 -> 같(ka) 이(t͡ɕʰi), 생각을 -> 생(sɛŋ) 각(ka) 을(kɯl):
 *   the chunk shows how the syllable sounds in the word, linked consonant included. When the G2P
 *   writes a different number of vowels than there are syllables, its links decide (forced left
 *   to right).
 * - Broad (phonemic) IPA: hama writes the lenis stops ㄱ ㄷ ㅂ as g d b everywhere (yet ㅈ as t͡ɕ);
 *   they are written k t p here, as Korean phonemic transcription does (and its voiced allophone
 *   between voiced sounds is not marked). ㅐ and ㅔ are both e in hama's output (merged in
 *   today's speech); e is written as it comes.
 * - One rule fixed after the G2P: final ㅆ before ㅇ links as s͈ (see `linkSsangSiot`).
 */
import type { G2pWord } from '../phonemes/g2p.js';

const VOWEL = /[aeiouyøɛɯʌɐɑɔəɨœæ]/u;
const BROAD: Record<string, string> = { g: 'k', d: 't', b: 'p', ɡ: 'k' };

export const isVowelPhoneme = (p: string): boolean => VOWEL.test(p);

/** hama's phoneme spelling to broad Korean IPA (lenis g d b -> k t p). */
export function broadPhoneme(p: string): string {
  return BROAD[p] ?? p;
}

/**
 * Per syllable of a word of `syllables` syllables, the index of the syllable each phoneme belongs
 * to: by the vowels when there is one per syllable, else by the G2P's links forced to be
 * non-decreasing (a phoneme without a link takes its predecessor's syllable).
 */
export function syllableOfPhonemes(phonemes: readonly string[], links: readonly number[], syllables: number): number[] {
  const m = phonemes.length;
  if (m === 0 || syllables <= 0) return [];
  const vowels = phonemes.flatMap((p, i) => (isVowelPhoneme(p) ? [i] : []));
  if (vowels.length === syllables) {
    const out = new Array<number>(m).fill(0);
    for (let k = 0; k < syllables; k++) {
      out[vowels[k]] = k;
      if (k === 0) {
        for (let i = 0; i < vowels[0]; i++) out[i] = 0;
      } else {
        // Consonants between vowel k-1 and vowel k: the last is k's onset, the rest k-1's coda.
        const from = vowels[k - 1] + 1;
        const to = vowels[k];
        for (let i = from; i < to; i++) out[i] = i === to - 1 ? k : k - 1;
      }
    }
    for (let i = vowels[syllables - 1] + 1; i < m; i++) out[i] = syllables - 1;
    return out;
  }
  const out: number[] = [];
  let at = 0;
  for (let i = 0; i < m; i++) {
    const l = links[i];
    if (Number.isInteger(l) && l >= 0) at = Math.max(at, Math.min(l, syllables - 1));
    out.push(at);
  }
  return out;
}

const HANGUL_BASE = 0xac00;
const TAIL_SSANG_SIOT = 20;
const LEAD_IEUNG = 11;

function jamoIndices(ch: string): { lead: number; tail: number } | undefined {
  const c = (ch.codePointAt(0) ?? 0) - HANGUL_BASE;
  if (c < 0 || c >= 11172) return undefined;
  return { lead: Math.floor(c / 588), tail: c % 28 };
}

/**
 * The one correction made to the G2P: a final ㅆ before a syllable written with ㅇ (았어요, 있어,
 * 셨어요, 겠어요) links as s͈ (standard pronunciation art. 13: [이써요]); hama writes t͡ɕ, t or s
 * there (about one in seven of its disagreements with es-hangul on the testdata words). ㅆ only
 * ends verb stems and endings, always followed there by an ending, so the rule has no exception.
 */
function linkSsangSiot(word: string, groups: string[][]): void {
  const chars = Array.from(word);
  for (let k = 0; k + 1 < chars.length; k++) {
    const a = jamoIndices(chars[k]);
    const b = jamoIndices(chars[k + 1]);
    if (a?.tail !== TAIL_SSANG_SIOT || b?.lead !== LEAD_IEUNG) continue;
    const here = groups[k];
    const next = groups[k + 1];
    if (!here.some(isVowelPhoneme) || !next.some(isVowelPhoneme)) continue;
    while (here.length > 0 && !isVowelPhoneme(here[here.length - 1])) here.pop();
    while (next.length > 0 && !isVowelPhoneme(next[0])) next.shift();
    next.unshift('s͈');
  }
}

/** One broad-IPA string per syllable of `word` (Hangul syllables only) from the G2P's output for it. */
export function syllablePronunciations(word: string, g2p: G2pWord): string[] {
  const syllables = Array.from(word).length;
  const of = syllableOfPhonemes(g2p.phonemes, g2p.letters, syllables);
  const groups: string[][] = Array.from({ length: syllables }, () => []);
  g2p.phonemes.forEach((p, i) => groups[of[i]].push(p));
  linkSsangSiot(word, groups);
  return groups.map((g) => g.map(broadPhoneme).join(''));
}
