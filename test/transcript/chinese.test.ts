import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toSimplified } from '../../src/transcript/chinese.js';

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
