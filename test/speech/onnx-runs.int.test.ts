/**
 * GuardedSession on the real Silero model: a release waits for the run in flight and refuses
 * the next one. Before it, SIGTERM in the middle of a long-form job's VAD pass released the
 * session under a running run and Node aborted (exit 134, "terminate called after throwing an
 * instance of 'Napi::Error'"), found running deploy/compose.yaml in Docker.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sharedVadLoader, SileroVad } from '../../src/speech/vad/silero.js';
import { modelsDir } from '../helpers/media-fixtures.js';

describe('GuardedSession', () => {
  it('a release in the middle of a VAD pass waits for the window in flight; the pass then fails cleanly', async () => {
    const vad = await SileroVad.load(join(modelsDir(), 'silero-vad'));
    const pcm = new Float32Array(16000 * 60).map((_, i) => Math.sin(i / 7) * 0.3);
    const pass = vad.probabilities(pcm);
    const settled = pass.then(() => 'finished', (err: Error) => err.message);
    await new Promise((r) => setTimeout(r, 20));
    await vad.close();
    assert.match(await settled, /released/);
    await assert.rejects(vad.probabilities(pcm.subarray(0, 512)), /released/);
  });

  it('the shared VAD loader loads nothing once closed (a job interrupted by shutdown asking again)', async () => {
    const loadVad = sharedVadLoader(modelsDir());
    const vad = await loadVad();
    const pass = vad.probabilities(new Float32Array(16000 * 30)).catch((err: Error) => err.message);
    await loadVad.close();
    assert.match(String(await pass), /released/);
    await assert.rejects(loadVad(), /closed/);
  });
});
