import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeFile } from '../../../src/media/decode.js';
import ort from 'onnxruntime-node';
import { LogMelExtractor, WINDOW_FRAMES } from '../../../src/speech/whisper/features.js';
import { loadWhisperModel } from '../../../src/speech/whisper/model.js';
import { DecoderRunner } from '../../../src/speech/whisper/decoder-runner.js';
import { PaddedCross } from '../../../src/speech/whisper/padded-cross.js';
import { contextFrames, loadShortEncoder } from '../../../src/speech/whisper/short-encoder.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

const MODEL_DIR = join(modelsDir(), 'whisper-base');

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}

test('padded cross K/V: close to projecting the padded encoder output whole; a reused set leaves no trace of the last request', async () => {
  const model = await loadWhisperModel(MODEL_DIR, 'whisper-base', 2);
  const short = await loadShortEncoder(MODEL_DIR, 2);
  try {
    const runner = new DecoderRunner(model);
    const mel = new LogMelExtractor(model.nMels);
    const { pcm } = await decodeFile(join(testdataDir(), 'en/jfk.flac')); // 11 s
    const policy = { marginS: 1, roundS: 1, minS: 0 };
    const longMel = mel.extract(pcm);
    const shortPcm = pcm.subarray(0, 16000 * 3);
    const shortMel = mel.extract(shortPcm);

    // Reference: the decoder projects the whole padded output itself.
    const whole = await runner.crossKv(await short.encodePadded(shortMel, contextFrames(shortPcm.length, policy)));
    const head = await short.encode(shortMel, contextFrames(shortPcm.length, policy));

    // As the transcriber does: the padding from the full-window encoder.
    const silence = async () => (await model.encoder.run({
      input_features: new ort.Tensor('float32', mel.extract(new Float32Array(0)), [1, model.nMels, WINDOW_FRAMES]),
    })).last_hidden_state;
    const pc = new PaddedCross(runner, silence, 1);
    const fresh = await pc.acquire(head);
    assert.equal(fresh.cross.length, whole.length);
    fresh.cross.forEach((t, i) => {
      assert.deepEqual(t.dims, whole[i].dims);
      // Activations are quantised per tensor, so projecting the parts apart moves values a little.
      const c = cosine(t.data as Float32Array, whole[i].data as Float32Array);
      assert.ok(c > 0.99, `tensor ${i}: cosine ${c}`);
    });
    const freshCopy = fresh.cross.map((t) => new Float32Array(t.data as Float32Array));
    fresh.release();

    // A longer request dirties more positions of the reused set; the next short one must see
    // exactly what a fresh set gives.
    const long = await pc.acquire(await short.encode(longMel, contextFrames(pcm.length, policy)));
    long.release();
    const again = await pc.acquire(head);
    again.cross.forEach((t, i) => assert.deepEqual(t.data as Float32Array, freshCopy[i], `tensor ${i}`));
    again.release();

    // Dropped, the padding is computed again (its encoder run counted) and gives the same K/V.
    let encoded = 0;
    const counted = new PaddedCross(runner, async () => { encoded++; return silence(); }, 1);
    (await counted.acquire(head)).release();
    counted.drop();
    const afterDrop = await counted.acquire(head);
    assert.equal(encoded, 2);
    afterDrop.cross.forEach((t, i) => assert.deepEqual(t.data as Float32Array, freshCopy[i], `tensor ${i} after drop`));
    afterDrop.release();
  } finally {
    await model.encoder.release();
    await model.decoder.release();
    await short.session.release();
  }
});
