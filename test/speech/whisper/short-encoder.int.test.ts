import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { decodeFile } from '../../../src/media/decode.js';
import { LogMelExtractor, WINDOW_FRAMES } from '../../../src/speech/whisper/features.js';
import { ENCODER_FILE, loadWhisperModel } from '../../../src/speech/whisper/model.js';
import { DecoderRunner } from '../../../src/speech/whisper/decoder-runner.js';
import { LogitRules, beamSearch } from '../../../src/speech/whisper/search.js';
import {
  buildShortEncoderModel, capTimestamps, contextFrames, loadShortEncoder, sliceMel,
} from '../../../src/speech/whisper/short-encoder.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

const MODEL_DIR = join(modelsDir(), 'whisper-base');
const JFK = join(testdataDir(), 'en/jfk.flac');

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function meanCosine(a: Float32Array, b: Float32Array, rows: number, d: number): number {
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let k = r * d; k < (r + 1) * d; k++) { ab += a[k] * b[k]; aa += a[k] * a[k]; bb += b[k] * b[k]; }
    sum += ab / Math.sqrt(aa * bb);
  }
  return sum / rows;
}

test('contextFrames: content + margin, rounded, even, capped at the window', () => {
  const sr = 16000;
  assert.equal(contextFrames(2 * sr, { marginS: 1, roundS: 0, minS: 0 }), 300);
  assert.equal(contextFrames(2.345 * sr, { marginS: 1, roundS: 0, minS: 0 }), 336); // 334.5 -> 335 -> even
  assert.equal(contextFrames(2.3 * sr, { marginS: 1, roundS: 1, minS: 0 }), 400);
  assert.equal(contextFrames(5 * sr, { marginS: 0, roundS: 5, minS: 0 }), 500);
  assert.equal(contextFrames(5.01 * sr, { marginS: 0, roundS: 5, minS: 0 }), 1000);
  assert.equal(contextFrames(0.2 * sr, { marginS: 0, roundS: 0, minS: 3 }), 300);
  assert.equal(contextFrames(29.5 * sr, { marginS: 2, roundS: 0, minS: 0 }), WINDOW_FRAMES);
  for (let s = 0; s < 40; s += 0.37) assert.equal(contextFrames(s * sr, { marginS: 0.5, roundS: 0, minS: 0 }) % 2, 0);
});

test('sliceMel keeps the first frames of every mel row', () => {
  const mel = Float32Array.from({ length: 3 * 10 }, (_, i) => i);
  assert.deepEqual(Array.from(sliceMel(mel, 3, 4)), [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
  assert.equal(sliceMel(mel, 3, 10), mel);
  assert.throws(() => sliceMel(mel, 3, 11));
});

test('capTimestamps keeps timestamps up to the last encoded position', () => {
  const row = new Float32Array(20).fill(1);
  capTimestamps(row, 10, 4); // <|0.00|> = 10 ... <|0.08|> = 14 stay
  assert.deepEqual(Array.from(row.subarray(0, 15)), new Array(15).fill(1));
  assert.ok(row.subarray(15).every((v) => v === -Infinity));
});

test('the graph edit: positional embedding sliced, dims symbolic; other bytes are refused', () => {
  const original = readFileSync(join(MODEL_DIR, ENCODER_FILE));
  const { bytes, info } = buildShortEncoderModel(original);
  assert.deepEqual(info.positionalDims, [1500, 512]);
  assert.equal(info.externalData, false);
  // Node and initializer names are plain strings in the protobuf: the new ones are there.
  const text = Buffer.from(bytes).toString('latin1');
  for (const s of ['sori_short_encoder/Slice', 'sori_short_encoder/positional_embedding', 'n_frames', 'n_positions']) assert.ok(text.includes(s), s);
  // The weights are untouched: raw initializer data from the middle of the file is still there,
  // and the model only lost its value_info (a few tens of kB) and gained four small nodes.
  const mid = Math.floor(original.length / 2);
  assert.ok(Buffer.from(bytes).includes(original.subarray(mid, mid + 4096)));
  assert.ok(Math.abs(bytes.length - original.length) < 100_000, `${bytes.length} vs ${original.length}`);
  assert.throws(() => buildShortEncoderModel(new Uint8Array([0x0a, 0x02, 0x08, 0x01])), /no graph|positional/);
});

test('short encoder on the real model: 30 s equals the original, short inputs stay close', async () => {
  const original = await ort.InferenceSession.create(join(MODEL_DIR, ENCODER_FILE), { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
  const short = await loadShortEncoder(MODEL_DIR, 2);
  try {
    const { pcm } = await decodeFile(JFK); // 11 s
    const mel = new LogMelExtractor(80).extract(pcm);
    const full = (await original.run({ input_features: new ort.Tensor('float32', mel, [1, 80, WINDOW_FRAMES]) })).last_hidden_state;
    const same = await short.encode(mel, WINDOW_FRAMES);
    assert.deepEqual(same.dims, [1, 1500, 512]);
    // Same graph, same weights; only kernel choices for the symbolic shape may differ (1.5e-5 seen).
    assert.ok(maxAbsDiff(full.data as Float32Array, same.data as Float32Array) < 1e-3);

    // 13 s context (11 s speech + 2 s): 650 positions. Self-attention sees less padding, so the
    // values move, but each position's vector keeps its direction.
    const frames = contextFrames(pcm.length, { marginS: 2, roundS: 0, minS: 0 });
    const part = await short.encode(mel, frames);
    assert.deepEqual(part.dims, [1, frames / 2, 512]);
    const data = part.data as Float32Array;
    assert.ok(data.every(Number.isFinite));
    const cos = meanCosine(data, (full.data as Float32Array).subarray(0, data.length), frames / 2, 512);
    assert.ok(cos > 0.8, `mean cosine ${cos}`);
    // Odd frame counts are rounded up to whole encoder positions.
    assert.deepEqual((await short.encode(mel, 301)).dims, [1, 151, 512]);

    // Padded: the short output, then the silent window's tail.
    const padded = await short.encodePadded(mel, frames);
    assert.deepEqual(padded.dims, [1, 1500, 512]);
    assert.equal(maxAbsDiff((padded.data as Float32Array).subarray(0, data.length), data), 0);
  } finally {
    await original.release();
    await short.session.release();
  }
});

test('the decoder transcribes from a truncated encoder output (fewer than 1500 positions)', async () => {
  const model = await loadWhisperModel(MODEL_DIR, 'whisper-base', 2);
  const short = await loadShortEncoder(MODEL_DIR, 2);
  try {
    const { pcm } = await decodeFile(JFK);
    const mel = new LogMelExtractor(model.nMels).extract(pcm);
    const runner = new DecoderRunner(model);
    const { sot, transcribe, noTimestamps, eot, timestampBegin } = model.tokens;
    const prefix = [sot, model.langToId.get('en')!, transcribe, noTimestamps];
    for (const enc of [
      await short.encode(mel, contextFrames(pcm.length, { marginS: 2, roundS: 0, minS: 0 })),
      await short.encodePadded(mel, contextFrames(pcm.length, { marginS: 1, roundS: 0, minS: 0 })),
    ]) {
      const pre = await runner.prefill(prefix, enc);
      // Cross-attention K/V follow the encoder output's length.
      assert.equal(pre.cache.cross[0].dims[2], enc.dims[1]);
      const V = model.vocabSize;
      const r = await beamSearch(runner, new LogitRules(model), eot, timestampBegin, pre.logits.slice(3 * V, 4 * V), pre.cache, {
        beamSize: 1, temperature: 0, bestOf: 1, sampleLen: 100, timestamps: false, rng: Math.random,
      });
      const text = model.tokenizer.decode(r.tokens.filter((t) => t < eot), { skip_special_tokens: true }).toLowerCase();
      assert.match(text, /not what your country can do for you, ask what you can do for your country/, text);
    }
  } finally {
    await model.encoder.release();
    await model.decoder.release();
    await short.session.release();
  }
});
