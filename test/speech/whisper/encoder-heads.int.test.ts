/**
 * The encoder's attention head by head (src/speech/whisper/encoder-heads.ts) on the real model:
 * every layer's block is rewritten and the encoder's output is the same, at 30 s and at a short
 * context. Its memory is measured, not asserted (docs/benchmarks.md, issue 21).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { splitEncoderAttentionHeads } from '../../../src/speech/whisper/encoder-heads.js';
import { ENCODER_FILE } from '../../../src/speech/whisper/model.js';
import { loadShortEncoder } from '../../../src/speech/whisper/short-encoder.js';
import { decodeFile } from '../../../src/media/decode.js';
import { LogMelExtractor } from '../../../src/speech/whisper/features.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

const MODEL_DIR = join(modelsDir(), 'whisper-base');

test('one block per encoder layer is rewritten; a graph without the pattern or with one head is left alone', () => {
  const original = new Uint8Array(readFileSync(join(MODEL_DIR, ENCODER_FILE)));
  const { blocks } = splitEncoderAttentionHeads(original, 8);
  assert.equal(blocks, 6, 'whisper-base has 6 encoder layers');
  assert.equal(splitEncoderAttentionHeads(original, 1).blocks, 0);
  assert.equal(splitEncoderAttentionHeads(new Uint8Array([]), 8).blocks, 0);
});

test('the encoder computes the same output head by head, on a 30 s window and on a short context', { timeout: 120_000 }, async () => {
  const split = await loadShortEncoder(MODEL_DIR, 1, { precomputeSilence: false });
  const whole = await loadShortEncoder(MODEL_DIR, 1, { precomputeSilence: false, splitHeads: false });
  try {
    const { pcm } = await decodeFile(join(testdataDir(), 'en/jfk.flac'));
    const mel = new LogMelExtractor(80).extract(pcm);
    for (const frames of [3000, 1200]) {
      const a = (await split.encode(mel, frames)).data as Float32Array;
      const b = (await whole.encode(mel, frames)).data as Float32Array;
      assert.equal(a.length, b.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      assert.ok(worst < 1e-4, `${frames} frames: max difference ${worst}`);
    }
  } finally {
    await split.session.release();
    await whole.session.release();
  }
});
