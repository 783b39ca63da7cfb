/**
 * CLOVA's `Chn` answers in Simplified Chinese, while Whisper emits Traditional characters
 * for some clips. Character-level conversion only: phrase conversion (e.g. Taiwanese
 * vocabulary to Mainland vocabulary) would change words the speaker actually said.
 *
 * The tables are OpenCC's (opencc-js, Taiwan and Hong Kong variants to Simplified, Simplified to
 * Taiwan): its characters, and the phrases it converts otherwise than their characters (瞭解 ->
 * 了解), generated into chinese-characters.ts; opencc-js's own converters load every
 * dictionary it ships and cost the server ~95 MB resident.
 */
import { SIMPLIFIED_PHRASES, TO_SIMPLIFIED, TO_TRADITIONAL, TRADITIONAL_PHRASES } from './chinese-characters.js';

interface Table {
  chars: Map<string, string>;
  /** Phrases OpenCC converts otherwise than their characters, by length in characters. */
  phrases: Map<string, string>;
  longest: number;
}

function table(pairs: string, phraseList: string): Table {
  const list = Array.from(pairs);
  const chars = new Map<string, string>();
  for (let i = 0; i + 1 < list.length; i += 2) chars.set(list[i], list[i + 1]);
  const phrases = new Map<string, string>();
  let longest = 0;
  for (const entry of phraseList.split('|')) {
    const [from, to] = entry.split(' ');
    if (from === undefined || to === undefined) continue;
    phrases.set(from, to);
    longest = Math.max(longest, Array.from(from).length);
  }
  return { chars, phrases, longest };
}

let simplified: Table | undefined;
let traditional: Table | undefined;

/** OpenCC's way: the longest phrase matching at each position, else the character. */
function convert(text: string, t: Table): string {
  const chars = Array.from(text);
  let out = '';
  for (let i = 0; i < chars.length;) {
    let matched = false;
    for (let n = Math.min(t.longest, chars.length - i); n >= 2 && !matched; n--) {
      const to = t.phrases.get(chars.slice(i, i + n).join(''));
      if (to !== undefined) {
        out += to;
        i += n;
        matched = true;
      }
    }
    if (!matched) {
      out += t.chars.get(chars[i]) ?? chars[i];
      i++;
    }
  }
  return out;
}

export function toSimplified(text: string): string {
  return convert(text, (simplified ??= table(TO_SIMPLIFIED, SIMPLIFIED_PHRASES)));
}

/** zh-tw long-form results: Taiwan-standard Traditional characters (character level too). */
export function toTraditional(text: string): string {
  return convert(text, (traditional ??= table(TO_TRADITIONAL, TRADITIONAL_PHRASES)));
}
