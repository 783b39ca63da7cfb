import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { SileroVad, speechSegments, DEFAULT_VAD_OPTIONS } from '../../../src/speech/vad/silero.js';
import { SAMPLE_RATE } from '../../../src/audio.js';
import { decodeFile } from '../../../src/media/decode.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

let vad: SileroVad;
before(async () => {
  vad = await SileroVad.load(join(modelsDir(), 'silero-vad'));
});

test('silence has no speech; a real clip has speech where it is spoken', async () => {
  assert.deepEqual(await vad.segments(new Float32Array(SAMPLE_RATE * 3)), []);
  const { pcm } = await decodeFile(join(testdataDir(), 'en/jfk.flac'));
  // 2 s of silence before the clip: speech must start after it.
  const padded = new Float32Array(pcm.length + 2 * SAMPLE_RATE);
  padded.set(pcm, 2 * SAMPLE_RATE);
  const segs = await vad.segments(padded);
  assert.ok(segs.length >= 2, JSON.stringify(segs));
  assert.ok(segs[0].start / SAMPLE_RATE > 2.0 && segs[0].start / SAMPLE_RATE < 2.6, JSON.stringify(segs[0]));
  const speech = segs.reduce((a, s) => a + s.end - s.start, 0) / SAMPLE_RATE;
  assert.ok(speech > 6 && speech < 11, `speech ${speech} s`);
});

test('the pauses between the utterances of a joined file are found (within 300 ms)', async () => {
  // The 3-minute two-speaker dialogue joined from separate recordings, with each recording's span.
  // Those spans include the recordings' own leading and trailing silence, so a boundary between
  // two utterances is found when it lies in (or within 300 ms of) a pause the VAD reports.
  const file = 'ko/dialog_etts_lmy_kih_3min';
  const truth = JSON.parse(readFileSync(join(testdataDir(), `${file}.segments.json`), 'utf8')) as { start: number; end: number }[];
  const { pcm } = await decodeFile(join(testdataDir(), `${file}.flac`), { maxSeconds: 600 });
  const segs = await vad.segments(pcm);
  const pauses = segs.slice(1).map((s, i) => [segs[i].end / SAMPLE_RATE - 0.3, s.start / SAMPLE_RATE + 0.3]);
  let found = 0;
  for (let i = 1; i < truth.length; i++) {
    const boundary = (truth[i - 1].end + truth[i].start) / 2;
    if (pauses.some(([a, b]) => boundary >= a && boundary <= b)) found++;
  }
  const share = found / (truth.length - 1);
  assert.ok(share >= 0.9, `${found}/${truth.length - 1} utterance boundaries found`);
});

test('hysteresis, minimum durations and padding follow Silero’s rules', () => {
  const p = (xs: number[]): Float32Array => Float32Array.from(xs);
  const n = 512;
  // 10 windows speech, 1 window dip (32 ms < 100 ms min silence), 10 speech, then silence.
  const probs = p([0, 0, ...Array(10).fill(0.9), 0.1, ...Array(10).fill(0.9), ...Array(10).fill(0)]);
  const segs = speechSegments(probs, probs.length * n, DEFAULT_VAD_OPTIONS);
  assert.equal(segs.length, 1);
  assert.equal(segs[0].start, 2 * n - 480);
  // a blip shorter than the minimum speech duration is dropped
  assert.deepEqual(speechSegments(p([0, 0.9, 0.9, 0, 0, 0, 0, 0, 0]), 9 * n, DEFAULT_VAD_OPTIONS), []);
});
