import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SpeechEngine, TranscribeOptions, Transcript } from '../../src/speech/engine.js';
import { DecodeScheduler } from '../../src/stream/decode-scheduler.js';
import { Utterance } from '../../src/stream/utterance.js';

interface Call {
  samples: number;
  opts: TranscribeOptions;
  resolve: (text: string) => void;
}

/** An engine whose every decode waits until the test resolves it. */
function fakeEngine(): { engine: SpeechEngine; calls: Call[] } {
  const calls: Call[] = [];
  const engine = {
    transcribe: (pcm: Float32Array, opts: TranscribeOptions) =>
      new Promise<Transcript>((resolve, reject) => {
        opts.signal?.addEventListener('abort', () => reject(opts.signal?.reason));
        calls.push({
          samples: pcm.length, opts,
          resolve: (text) => resolve({ text, language: opts.language ?? 'ko', durationS: pcm.length / 16000, segments: [] }),
        });
      }),
  } as unknown as SpeechEngine;
  return { engine, calls };
}

function setup() {
  const { engine, calls } = fakeEngine();
  const events: string[] = [];
  const scheduler = new DecodeScheduler({
    engine, partialIntervalMs: 500, finalBeamSize: 3,
    setup: () => ({ language: 'en', boost: undefined, corrector: undefined }),
    onPartialText: (_u, text) => events.push(`text ${text}`),
    onPartial: (_u, t, samples) => events.push(`partial ${t.text} ${samples}`),
  });
  return { scheduler, calls, events };
}

const settle = () => new Promise((r) => setImmediate(r));

function grow(utt: Utterance, ms: number): void {
  for (let i = 0; i < (ms / 1000) * 16000; i += 512) utt.append(new Float32Array(512), true);
}

test('partials: every 500 ms of new audio, one at a time, each drafted from the last one\'s text', async () => {
  const { scheduler, calls, events } = setup();
  const utt = new Utterance(0);
  grow(utt, 400);
  scheduler.maybePartial(utt);
  assert.equal(calls.length, 0, 'too little audio');
  grow(utt, 200);
  scheduler.maybePartial(utt);
  assert.equal(calls.length, 1);
  assert.deepEqual(
    { beamSize: calls[0].opts.beamSize, priority: calls[0].opts.priority, draft: calls[0].opts.draft, wordTimestamps: calls[0].opts.wordTimestamps },
    { beamSize: 1, priority: 'partial', draft: undefined, wordTimestamps: undefined },
  );
  grow(utt, 600);
  scheduler.maybePartial(utt);
  assert.equal(calls.length, 1, 'one partial at a time');
  calls[0].resolve('hello');
  await settle();
  assert.deepEqual(events, ['text hello', `partial hello ${calls[0].samples}`]);
  assert.equal(utt.partialText, 'hello');
  scheduler.maybePartial(utt);
  assert.equal(calls.length, 2);
  assert.equal(calls[1].opts.draft, 'hello');
});

test('a pause: the speculative final aborts the partial and is the final if only silence followed', async () => {
  const { scheduler, calls, events } = setup();
  const utt = new Utterance(0);
  grow(utt, 1000);
  scheduler.maybePartial(utt);
  scheduler.speculate(utt);
  assert.equal(calls.length, 2);
  assert.ok(calls[0].opts.signal?.aborted, 'the partial is aborted');
  assert.deepEqual({ beamSize: calls[1].opts.beamSize, wordTimestamps: calls[1].opts.wordTimestamps, priority: calls[1].opts.priority }, { beamSize: 3, wordTimestamps: true, priority: 'stream' });
  // No partial while it runs.
  grow(utt, 1000);
  scheduler.maybePartial(utt);
  assert.equal(calls.length, 2);
  calls[1].resolve('Hello there.');
  await settle();
  assert.equal(scheduler.pauseTranscript?.text, 'Hello there.');
  const final = await scheduler.finish(utt, true);
  assert.equal(final?.text, 'Hello there.');
  assert.equal(calls.length, 2, 'no second decode');
  assert.deepEqual(events, []);
});

test('speech after the pause began: the speculation is dropped and the final decoded from the last partial\'s text', async () => {
  const { scheduler, calls } = setup();
  const utt = new Utterance(0);
  grow(utt, 1000);
  scheduler.maybePartial(utt);
  calls[0].resolve('hello');
  await settle();
  scheduler.speculate(utt);
  grow(utt, 100);
  utt.lastSpeechEnd = utt.length;
  scheduler.speechResumed(utt);
  assert.ok(calls[1].opts.signal?.aborted);
  assert.equal(scheduler.pauseTranscript, undefined);
  const final = scheduler.finish(utt, true);
  assert.ok(final !== undefined);
  assert.equal(calls.length, 3);
  assert.deepEqual({ draft: calls[2].opts.draft, samples: calls[2].samples, signal: calls[2].opts.signal }, { draft: 'hello', samples: utt.length, signal: undefined });
  calls[2].resolve('hello again');
  assert.equal((await final)?.text, 'hello again');
});

test('finish without speech decodes nothing and answers at once; close aborts what runs', () => {
  const { scheduler, calls } = setup();
  const utt = new Utterance(0);
  grow(utt, 1000);
  scheduler.maybePartial(utt);
  assert.equal(scheduler.finish(utt, false), undefined);
  assert.ok(calls[0].opts.signal?.aborted, 'the partial is aborted all the same');
  const next = new Utterance(utt.length);
  grow(next, 1000);
  scheduler.speculate(next);
  scheduler.close();
  assert.ok(calls[1].opts.signal?.aborted);
});
