import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { decodeFile } from '../../../src/media/decode.js';
import { SileroVad } from '../../../src/speech/vad/silero.js';
import { VadWindower, type SpeechWindow } from '../../../src/speech/vad/windows.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

const SR = 16000;
let vad: SileroVad;
let dialog: Float32Array;

before(async () => {
  vad = await SileroVad.load(join(modelsDir(), 'silero-vad'));
  dialog = (await decodeFile(join(testdataDir(), 'ko/dialog_etts_lmy_kih_3min.flac'))).pcm;
});

async function windowsOf(pcm: Float32Array, chunk: number): Promise<{ windows: SpeechWindow[]; maxHeld: number }> {
  const w = new VadWindower(vad);
  const windows: SpeechWindow[] = [];
  let maxHeld = 0;
  for (let i = 0; i < pcm.length; i += chunk) {
    windows.push(...(await w.push(pcm.subarray(i, i + chunk))));
    maxHeld = Math.max(maxHeld, w.received - (windows.at(-1)?.end ?? 0));
  }
  windows.push(...(await w.finish()));
  return { windows, maxHeld };
}

describe('VadWindower', () => {
  it('cuts a 3-minute dialogue into ordered windows of at most 30 s that hold all of its speech', async () => {
    const { windows } = await windowsOf(dialog, 16000);
    assert.ok(windows.length >= 6, `expected several windows, got ${windows.length}`);
    let prevEnd = 0;
    for (const w of windows) {
      assert.ok(w.end - w.start <= 30 * SR, `window of ${(w.end - w.start) / SR} s`);
      assert.ok(w.start >= prevEnd, 'windows are ordered and do not overlap');
      assert.equal(w.pcm.length, w.end - w.start);
      assert.ok(w.speech.length > 0);
      prevEnd = w.end;
    }
    // Most windows should be long (context helps Whisper), not one per utterance.
    const meanS = windows.reduce((a, w) => a + (w.end - w.start), 0) / windows.length / SR;
    assert.ok(meanS > 12, `mean window ${meanS.toFixed(1)} s`);
    const speechS = windows.reduce((a, w) => a + (w.end - w.start), 0) / SR;
    assert.ok(speechS > 0.6 * (dialog.length / SR), `windows cover ${speechS.toFixed(0)} s of ${dialog.length / SR} s`);
  });

  it('gives the same windows whatever the chunk size (odd sizes included)', async () => {
    const a = await windowsOf(dialog, 16000);
    const b = await windowsOf(dialog, 4001);
    assert.deepEqual(a.windows.map((w) => [w.start, w.end]), b.windows.map((w) => [w.start, w.end]));
    // Read speech with few long pauses: a window that reaches 30 s while the next utterance is
    // still running used to end wherever the chunk it was decided in happened to end (the
    // window at 227.7 s came out 27.4 or 20.5 s long, so the same file gave other text).
    const read = (await decodeFile(join(testdataDir(), 'ko/long_etts_lmy_12min.flac'))).pcm.subarray(0, 300 * SR);
    const spans = async (chunk: number): Promise<number[][]> => (await windowsOf(read, chunk)).windows.map((w) => [w.start, w.end]);
    const first = await spans(16000);
    assert.deepEqual(await spans(65536), first);
    assert.deepEqual(await spans(4001), first);
  });

  it('holds a bounded amount of audio however long the stream (memory stays flat)', async () => {
    const { maxHeld } = await windowsOf(dialog, 8000);
    assert.ok(maxHeld < 45 * SR, `held ${(maxHeld / SR).toFixed(1)} s`);
  });

  it('yields nothing for silence and keeps only a little of it', async () => {
    const w = new VadWindower(vad);
    const silence = new Float32Array(SR);
    const out: SpeechWindow[] = [];
    for (let i = 0; i < 90; i++) out.push(...(await w.push(silence)));
    out.push(...(await w.finish()));
    assert.deepEqual(out, []);
  });
});
