import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogMelExtractor, WINDOW_FRAMES } from '../../../src/speech/whisper/features.js';

test('log-mel of silence is flat and of a tone peaks in the tone’s mel band', () => {
  const ex = new LogMelExtractor(80);
  const silent = ex.extract(new Float32Array(16000));
  assert.equal(silent.length, 80 * WINDOW_FRAMES);
  assert.ok(silent.every((v) => v === silent[0]));

  const tone = Float32Array.from({ length: 16000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000));
  const f = ex.extract(tone);
  const frame = 50;
  let best = 0;
  for (let m = 1; m < 80; m++) if (f[m * WINDOW_FRAMES + frame] > f[best * WINDOW_FRAMES + frame]) best = m;
  // 1 kHz sits near mel bin 25 of 80 on Whisper's Slaney scale (0-8 kHz).
  assert.ok(best >= 22 && best <= 28, `peak band ${best}`);
  // Past the audio (1 s = 100 frames) the window is padding: at the floor, max - 8, scaled.
  const tail = f[best * WINDOW_FRAMES + 2000];
  assert.ok(tail < f[best * WINDOW_FRAMES + frame] - 1.5);
});

test('more than 30 s of input is cut to one window', () => {
  const ex = new LogMelExtractor(80);
  assert.equal(ex.extract(new Float32Array(16000 * 40)).length, 80 * WINDOW_FRAMES);
});
