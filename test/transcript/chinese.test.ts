import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenCC from 'opencc-js';
import { toSimplified, toTraditional } from '../../src/transcript/chinese.js';
import { SIMPLIFIED_PHRASES, TO_SIMPLIFIED, TO_TRADITIONAL, TRADITIONAL_PHRASES } from '../../src/transcript/chinese-characters.js';
import { tables } from '../../scripts/generate/chinese-characters.js';

describe('toSimplified', () => {
  it('turns Traditional characters (Taiwan and Hong Kong forms) into Simplified', () => {
    assert.equal(toSimplified('我們說話，這裡是臺灣。'), '我们说话，这里是台湾。');
    assert.equal(toSimplified('後來纔瞭解'), '后来才了解');
    assert.equal(toSimplified('乾淨的頭髮'), '干净的头发');
  });

  it('leaves Simplified text, Latin letters and digits unchanged', () => {
    const simplified = '甚至出现交易几乎停滞的情况 GPT-4 2024年';
    assert.equal(toSimplified(simplified), simplified);
  });

  it('converts characters only, not vocabulary', () => {
    // 軟體 is Taiwanese for software; Mainland says 软件. The speaker said 软体, so keep it.
    assert.equal(toSimplified('軟體'), '软体');
  });
});

describe('the generated tables (chinese-characters.ts)', () => {
  it('are what opencc-js gives one character at a time (npm run generate:chinese after an opencc-js update)', () => {
    const t = tables();
    assert.equal(TO_SIMPLIFIED, t.toSimplified);
    assert.equal(TO_TRADITIONAL, t.toTraditional);
    assert.equal(SIMPLIFIED_PHRASES, t.simplifiedPhrases);
    assert.equal(TRADITIONAL_PHRASES, t.traditionalPhrases);
  });

  it('convert sentences as opencc-js does', () => {
    const fromTaiwan = OpenCC.Converter({ from: 'tw', to: 'cn' });
    const fromHongKong = OpenCC.Converter({ from: 'hk', to: 'cn' });
    const toTaiwan = OpenCC.Converter({ from: 'cn', to: 'tw' });
    const traditional = '這個軟體的記憶體很大，請問後台怎麼設置？我們在臺灣發佈了新的網路服務，𠮷野家。';
    assert.equal(toSimplified(traditional), fromHongKong(fromTaiwan(traditional)));
    const simplified = '这个软件的内存很大，请问后台怎么设置？一口吃个饱，头发干了。';
    assert.equal(toTraditional(simplified), toTaiwan(simplified));
    assert.equal(toSimplified('一目瞭然，後來纔瞭解'), fromHongKong(fromTaiwan('一目瞭然，後來纔瞭解')));
  });
});
