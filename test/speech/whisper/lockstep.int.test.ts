import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { decodeFile } from '../../../src/media/decode.js';
import { VadWindower } from '../../../src/speech/vad/windows.js';
import { DEFAULT_VAD_OPTIONS, SileroVad } from '../../../src/speech/vad/silero.js';
import { LogMelExtractor, WINDOW_FRAMES } from '../../../src/speech/whisper/features.js';
import { loadWhisperModel, type WhisperModel } from '../../../src/speech/whisper/model.js';
import { loadGroupedDecoder } from '../../../src/speech/whisper/grouped-decoder.js';
import { DecoderRunner, type KvCache } from '../../../src/speech/whisper/decoder-runner.js';
import { LockstepDecoding } from '../../../src/speech/whisper/lockstep.js';
import { LogitRules, beamSearch, type SearchResult } from '../../../src/speech/whisper/search.js';
import { WhisperTranscriber, AbortedError, type WhisperOptions } from '../../../src/speech/whisper/transcriber.js';
import type { Transcript } from '../../../src/speech/engine.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';

const MODEL_DIR = join(modelsDir(), 'whisper-base');
/** The first minute of the 12-minute Korean recording, in windows of 5-12 s that end at different steps. */
const FILE = 'ko/long_etts_lmy_12min.flac';
const SECONDS = 60;

/** What a client sees of a transcript, and the tokens behind it. */
function shape(t: Transcript): unknown {
  return t.segments.map((s) => ({ text: s.text, tokens: s.tokens, start: s.start, end: s.end, words: s.words }));
}

// Decoded with per-row activation quantisation, a joined run gives every window exactly what it
// gets alone (grouped-decoder.int.test.ts), so any difference here is the lockstep's bookkeeping:
// joining, beam reorders, windows leaving at different steps.
describe('lockstep decoding of one recording\'s windows', () => {
  let model: WhisperModel;
  let transcriber: WhisperTranscriber;
  let windows: Float32Array[];
  let runs = 0;
  const opts: WhisperOptions = { language: 'ko', beamSize: 5, wordTimestamps: true, temperatureFallback: true };

  before(async () => {
    const { session } = await loadGroupedDecoder(MODEL_DIR, 2, { rowQuantization: true });
    // Counts decoder runs (instrumentation only: every call goes to the real session).
    const run = session.run.bind(session) as (...a: unknown[]) => Promise<ort.InferenceSession.ReturnType>;
    (session as { run: unknown }).run = (...a: unknown[]) => {
      runs++;
      return run(...a);
    };
    model = await loadWhisperModel(MODEL_DIR, 'whisper-base', 2, { decoder: session });
    transcriber = new WhisperTranscriber(model);
    const vad = await SileroVad.load(join(modelsDir(), 'silero-vad'));
    const { pcm } = await decodeFile(join(testdataDir(), FILE));
    const windower = new VadWindower(vad, { maxWindowS: 12, minWindowS: 5, vad: { ...DEFAULT_VAD_OPTIONS, maxSpeechS: 12 } });
    windows = [...(await windower.push(pcm.subarray(0, SECONDS * 16_000))), ...(await windower.finish())].map((w) => w.pcm).slice(0, 4);
    await vad.close();
    assert.equal(windows.length, 4);
  });

  after(async () => {
    await model.encoder.release();
    await model.decoder.release();
  });

  for (const beamSize of [5, 1]) {
    test(`beam ${beamSize}: every window as alone, in a fraction of the decoder runs`, async (t) => {
      const o = { ...opts, beamSize };
      runs = 0;
      const alone: Transcript[] = [];
      for (const w of windows) alone.push(await transcriber.transcribe(w, o));
      const aloneRuns = runs;
      runs = 0;
      const together = await transcriber.transcribeMany(windows, o, true);
      t.diagnostic(`decoder runs: ${aloneRuns} one window at a time, ${runs} in lockstep`);
      assert.deepEqual(together.map(shape), alone.map(shape));
      assert.ok(together.every((tr) => tr.text.length > 20), 'every window has text');
      // The windows end at different steps (so some leave while others go on) ...
      const lengths = alone.map((tr) => tr.segments.flatMap((s) => s.tokens ?? []).length);
      assert.ok(new Set(lengths).size === lengths.length, `token counts ${lengths.join(', ')}`);
      // ... and a run serves every window still searching: about the longest window's steps
      // plus each window's own runs (prefill, word alignment), far fewer than one at a time.
      assert.ok(runs < 0.5 * aloneRuns, `${runs} runs in lockstep, ${aloneRuns} alone`);
    });
  }

  test('without lockstep, transcribeMany is transcribe one window after the other', async () => {
    const alone: Transcript[] = [];
    for (const w of windows.slice(0, 2)) alone.push(await transcriber.transcribe(w, opts));
    assert.deepEqual((await transcriber.transcribeMany(windows.slice(0, 2), opts, false)).map(shape), alone.map(shape));
  });

  test('an aborted request stops every window, and none waits for another forever', async () => {
    const ac = new AbortController();
    let turns = 0;
    const turn = async (): Promise<void> => {
      if (++turns === 60) ac.abort();
    };
    await assert.rejects(transcriber.transcribeMany(windows, { ...opts, signal: ac.signal, turn }, true), AbortedError);
  });

  test('searches from prompts of different lengths go on alone and give what they give alone', async () => {
    // Direct use of the set: transcribeMany's windows share one prefix, so build the odd one here.
    const mel = new LogMelExtractor(model.nMels);
    const plain = new DecoderRunner(model);
    const rules = new LogitRules(model);
    const { sot, transcribe: task, noTimestamps, eot, timestampBegin } = model.tokens;
    const ko = model.langToId.get('ko') as number;
    const prompts = [[sot, ko, task, noTimestamps], [sot, ko, task, noTimestamps], [sot, ko, task]];
    const starts: { cache: KvCache; first: Float32Array }[] = [];
    for (let i = 0; i < prompts.length; i++) {
      const enc = await model.encoder.run({ input_features: new ort.Tensor('float32', mel.extract(windows[i]), [1, model.nMels, WINDOW_FRAMES]) });
      const p = await plain.prefill(prompts[i], enc.last_hidden_state);
      const v = p.logits.length / prompts[i].length;
      starts.push({ cache: p.cache, first: p.logits.slice((prompts[i].length - 1) * v) });
    }
    const search = (runner: DecoderRunner, i: number): Promise<SearchResult> =>
      beamSearch(runner, rules, eot, timestampBegin, starts[i].first.slice(), starts[i].cache, { beamSize: 3, temperature: 0, bestOf: 1, sampleLen: 40, timestamps: i === 2, rng: Math.random });
    const alone: SearchResult[] = [];
    for (let i = 0; i < starts.length; i++) alone.push(await search(plain, i));
    const set = new LockstepDecoding(model, starts.length);
    const together = await Promise.all(starts.map((_, i) => search(set.runners[i], i).finally(() => set.leave(i))));
    assert.deepEqual(together.map((r) => r.tokens), alone.map((r) => r.tokens));
    assert.equal(set.stats.alone, 1, 'the window with the odd prompt');
    assert.ok(set.stats.runs > 0, 'the other two were joined');
  });
});
