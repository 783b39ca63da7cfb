import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeFile } from '../../src/media/decode.js';
import { SileroVad } from '../../src/speech/vad/silero.js';
import { WindowedTranscription } from '../../src/speech/windowed.js';
import type { Transcript } from '../../src/speech/engine.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';

/** A transcript naming the window it was made for (its length in samples): what the engine returns, in shape. */
const named = (pcm: Float32Array): Transcript => ({ text: String(pcm.length), language: 'ko', segments: [], durationS: pcm.length / 16_000 });

async function* chunks(pcm: Float32Array): AsyncGenerator<Float32Array> {
  for (let at = 0; at < pcm.length; at += 16_000 * 7) yield pcm.subarray(at, at + 16_000 * 7);
}

// Real VAD on real speech; the engine is the part these tests replace with a recording function,
// since what is checked is which windows go out together and that each comes back in its place.
test('groups: windows go to the engine `size` at a time, the rest together at the end, and come back in order', async () => {
  const vad = await SileroVad.load(join(modelsDir(), 'silero-vad'));
  try {
    const { pcm } = await decodeFile(join(testdataDir(), 'ko/long_etts_lmy_12min.flac'));
    const audio = pcm.subarray(0, 16_000 * 200);
    const singles: number[] = [];
    const calls: number[][] = [];
    const windowed = new WindowedTranscription(
      vad, chunks(audio),
      async (w) => { singles.push(w.length); return named(w); },
      {},
      { size: 3, transcribe: async (ws) => { calls.push(ws.map((w) => w.length)); return ws.map(named); } },
    );
    const out = [];
    for await (const w of windowed) out.push(w);
    assert.ok(out.length >= 7, `${out.length} windows`);
    const sent = [...calls.flat(), ...singles];
    // Every window once, in order, with its own transcript.
    assert.deepEqual(out.map((w) => Number(w.transcript.text)), out.map((w) => w.window.end - w.window.start));
    assert.equal(sent.length, out.length);
    assert.ok(calls.slice(0, -1).every((c) => c.length === 3), JSON.stringify(calls));
    // A last group of one goes as a single request.
    assert.equal(singles.length, out.length % 3 === 1 ? 1 : 0);
    for (let i = 1; i < out.length; i++) assert.ok(out[i].window.start >= out[i - 1].window.end);
  } finally {
    await vad.close();
  }
});
