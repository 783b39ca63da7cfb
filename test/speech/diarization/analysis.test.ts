import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WindowAnalyzer } from '../../../src/speech/diarization/analysis.js';
import { diarizerOn } from '../../../src/speech/diarization/index.js';
import { parseTuning } from '../../../src/speech/diarization/options.js';
import type { ModelRunner } from '../../../src/speech/diarization/protocol.js';
import { EMBEDDING_DIM, type PartialBatch } from '../../../src/speech/diarization/embedding.js';
import { FRAMES_PER_WINDOW } from '../../../src/speech/diarization/segmentation.js';
import { SAMPLE_RATE } from '../../../src/audio.js';

/** One local speaker active everywhere; counts the embedding batches asked for. */
function fakeRunner(): ModelRunner & { embedded: number } {
  const r = {
    embedded: 0,
    segment: async (): Promise<Float32Array> => {
      const lp = new Float32Array(FRAMES_PER_WINDOW * 7).fill(-10);
      for (let f = 0; f < FRAMES_PER_WINDOW; f++) lp[f * 7 + 1] = 0;
      return lp;
    },
    embed: async (batches: PartialBatch[]): Promise<Float32Array[]> => {
      r.embedded += batches.length;
      return batches.map((b) => {
        const e = new Float32Array(EMBEDDING_DIM * b.count);
        for (let i = 0; i < b.count; i++) e[i * EMBEDDING_DIM] = 1;
        return e;
      });
    },
    diarize: async () => [],
  };
  return r;
}

const params = { stepSeconds: 2, minEmbeddingSeconds: 0.6, overlapFallback: true, maxPartials: 4, embedEvery: 2, splitThreshold: 3 };

async function analyse(seconds: number, embedEvery: number): Promise<{ embedded: boolean[]; calls: number }> {
  const runner = fakeRunner();
  const a = new WindowAnalyzer(runner, { ...params, embedEvery });
  const pcm = new Float32Array(seconds * SAMPLE_RATE).fill(0.1);
  for (let i = 0; i < pcm.length; i += 7777) await a.push(pcm.subarray(i, i + 7777));
  await a.flush();
  return { embedded: a.windows.map((w) => w.embeddings[0] !== null), calls: runner.embedded };
}

test('every n-th window is embedded, and the last one always', async () => {
  // 28 s: windows at 0, 2, ..., 18 s (10), the last one not an n-th: embedded at flush.
  const a = await analyse(28, 2);
  assert.deepEqual(a.embedded, [true, false, true, false, true, false, true, false, true, true]);
  assert.equal(a.calls, 6);
  // 29 s: a zero-padded 11th window covers the last second, and is the one embedded.
  const b = await analyse(29, 2);
  assert.deepEqual(b.embedded, [true, false, true, false, true, false, true, false, true, false, true]);
  // Every window.
  const c = await analyse(28, 1);
  assert.ok(c.embedded.every(Boolean));
  assert.equal(c.calls, 10);
  // Shorter than a window: the one zero-padded window is embedded.
  assert.deepEqual((await analyse(3, 3)).embedded, [true]);
});

test('a session told of a forced speaker count embeds as often as forcedEmbedEvery says', async () => {
  const runner = fakeRunner();
  const d = diarizerOn(runner, parseTuning({ stepSeconds: 2, embedEvery: 3, forcedEmbedEvery: 2 }));
  const count = async (opts?: { speakerCountMin?: number }): Promise<number> => {
    const before = runner.embedded;
    const s = d.session(opts);
    await s.push(new Float32Array(28 * SAMPLE_RATE).fill(0.1));
    await s.finish();
    return runner.embedded - before;
  };
  // 10 windows: every third (0, 3, 6, 9) against every other (0, 2, 4, 6, 8) and the last.
  assert.equal(await count(), 4);
  assert.equal(await count({ speakerCountMin: -1 }), 4);
  assert.equal(await count({ speakerCountMin: 1 }), 4);
  assert.equal(await count({ speakerCountMin: 2 }), 6);
});
