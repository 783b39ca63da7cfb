import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plausible, spanAudio, withoutRepeats } from '../../src/jobs/second-look.js';
import type { Transcript } from '../../src/speech/engine.js';

const transcript = (text: string, avgLogProb: number, noSpeechProb: number): Transcript => ({
  text, language: 'en', durationS: 1, segments: [{ start: 0, end: 1, text, avgLogProb, noSpeechProb }],
});

test('a second look keeps text the decoder was sure of, and nothing it thought was silence', () => {
  assert.equal(plausible(transcript(' Yeah.', -0.4, 0.2)), true);
  assert.equal(plausible(transcript(' Thank you.', -0.92, 0.78)), false, 'Whisper\'s favourite words for silence');
  assert.equal(plausible(transcript(' Okay then.', -1.3, 0.1)), false);
  assert.equal(plausible(transcript(' ...', -0.1, 0.1)), false);
  assert.equal(plausible(transcript('', 0, 0)), false);
});

test('spanAudio cuts each span from the stream at its own media time, however the chunks fall', async () => {
  // Sample i of the media has the value i: a span's first sample tells where it was cut.
  const total = 16_000 * 10;
  async function* chunks(size: number) {
    for (let at = 0; at < total; at += size) yield Float32Array.from({ length: Math.min(size, total - at) }, (_, k) => at + k);
  }
  const spans = [{ start: 100, end: 300 }, { start: 5000, end: 5500 }, { start: 9000, end: 9100 }];
  for (const size of [1000, 16_000, 3_000_000]) {
    const got: { start: number; first: number; length: number }[] = [];
    for await (const { span, pcm } of spanAudio(chunks(size), spans)) got.push({ start: span.start, first: pcm[0], length: pcm.length });
    assert.deepEqual(got, [
      { start: 100, first: 1600, length: 3200 },
      { start: 5000, first: 80_000, length: 8000 },
      { start: 9000, first: 144_000, length: 1600 },
    ], `chunks of ${size} samples`);
  }
});

test('a second look drops the words the first pass already heard at the edge of its span', () => {
  // AMI trn02: the first pass heard "Yeah." at 20.80-20.98 s; the padded span from 20.05 s heard it again, looser.
  const word = (start: number, end: number, text: string) => ({ start, end, text, probability: 0.9 });
  const decoded: Transcript = {
    text: ' Right. Yeah.', language: 'en', durationS: 1.4,
    segments: [{ start: 0, end: 1.4, text: ' Right. Yeah.', avgLogProb: -0.3, noSpeechProb: 0.1, words: [word(0.05, 0.2, ' Right.'), word(0.25, 0.95, ' Yeah.')] }],
  };
  const kept = withoutRepeats(decoded, 20_050, [[20_802, 20_982, 'Yeah.']]);
  assert.equal(kept.text, ' Right.');
  assert.deepEqual(kept.segments[0].words?.map((w) => w.text), [' Right.']);
  assert.equal(withoutRepeats(decoded, 20_050, [[20_802, 20_982, 'Yeah.'], [20_080, 20_260, 'right']]).text, '', 'everything heard before');
  assert.equal(withoutRepeats(decoded, 20_050, [[25_000, 25_300, 'Yeah.']]).text, ' Right. Yeah.', 'the same word far away is new');
  assert.equal(withoutRepeats(decoded, 20_050, []), decoded);
});
