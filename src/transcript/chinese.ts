/**
 * CLOVA's `Chn` answers in Simplified Chinese, while Whisper emits Traditional characters
 * for some clips. Character-level conversion only: phrase conversion (e.g. Taiwanese
 * vocabulary to Mainland vocabulary) would change words the speaker actually said.
 */
import OpenCC from 'opencc-js';

// Taiwan and Hong Kong standards each have variant forms the other table misses.
const fromTaiwan = OpenCC.Converter({ from: 'tw', to: 'cn' });
const fromHongKong = OpenCC.Converter({ from: 'hk', to: 'cn' });

export function toSimplified(text: string): string {
  return fromHongKong(fromTaiwan(text));
}

const toTaiwan = OpenCC.Converter({ from: 'cn', to: 'tw' });

/** zh-tw long-form results: Taiwan-standard Traditional characters (character level too). */
export function toTraditional(text: string): string {
  return toTaiwan(text);
}
