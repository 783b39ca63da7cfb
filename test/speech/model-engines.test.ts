import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EngineBusyError, type SpeechEngine } from '../../src/speech/engine.js';
import { ModelEngines } from '../../src/speech/model-engines.js';
import { DECODER_FILE, ENCODER_FILE, installedWhisperModels } from '../../src/speech/whisper/model.js';

const dir = mkdtempSync(join(tmpdir(), 'sori-model-engines-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fakeModel(name: string): void {
  mkdirSync(join(dir, name, 'onnx'), { recursive: true });
  writeFileSync(join(dir, name, ENCODER_FILE), '');
  writeFileSync(join(dir, name, DECODER_FILE), '');
}
for (const name of ['whisper-base', 'whisper-small', 'my-export']) fakeModel(name);
// Not Whisper: no encoder/decoder.
mkdirSync(join(dir, 'silero-vad'));
writeFileSync(join(dir, 'silero-vad', 'silero_vad.onnx'), '');
// A link to a model folder counts as the model.
symlinkSync(join(dir, 'whisper-small'), join(dir, 'whisper-small-link'));

function fakeEngine(name: string, closed: string[]): SpeechEngine {
  return { version: name, close: async () => void closed.push(name) } as unknown as SpeechEngine;
}

describe('model engines', () => {
  it('installed Whisper models: folders (or links) with the encoder and decoder, by name', () => {
    assert.deepEqual(installedWhisperModels(dir).map((m) => m.name), ['my-export', 'whisper-base', 'whisper-small', 'whisper-small-link']);
    assert.ok(installedWhisperModels(dir).every((m) => m.createdS > 1_600_000_000));
    assert.deepEqual(installedWhisperModels(join(dir, 'nope')), []);
  });

  it('the default model only, without a factory or with maxOthers 0', () => {
    const base = fakeEngine('whisper-base', []);
    for (const pool of [
      new ModelEngines({ defaultModel: 'whisper-base', defaultEngine: base, modelsDir: dir, maxOthers: 2 }),
      new ModelEngines({ defaultModel: 'whisper-base', defaultEngine: base, modelsDir: dir, maxOthers: 0, create: () => assert.fail('loaded') }),
    ]) {
      assert.deepEqual(pool.available().map((m) => m.name), ['whisper-base']);
      assert.equal(pool.acquire('whisper-base')?.engine, base);
      assert.equal(pool.acquire('whisper-small'), undefined);
    }
  });

  it('other models load on first use, are shared while loaded, and the least recently used idle one makes room', async () => {
    const created: string[] = [];
    const closed: string[] = [];
    const pool = new ModelEngines({
      defaultModel: 'whisper-base', defaultEngine: fakeEngine('whisper-base', closed), modelsDir: dir, maxOthers: 1,
      create: (name) => {
        created.push(name);
        return fakeEngine(name, closed);
      },
    });
    assert.deepEqual(pool.available().map((m) => m.name), ['whisper-base', 'my-export', 'whisper-small', 'whisper-small-link']);
    assert.equal(pool.acquire('silero-vad'), undefined, 'not a Whisper model');
    assert.equal(pool.acquire('../whisper-base'), undefined, 'not a name in the folder');
    const a = pool.acquire('whisper-small');
    const b = pool.acquire('whisper-small');
    assert.equal(a?.engine, b?.engine);
    assert.deepEqual(created, ['whisper-small']);
    // Both others in use: no room for a third.
    assert.throws(() => pool.acquire('my-export'), EngineBusyError);
    a?.release();
    a?.release(); // twice is once
    assert.throws(() => pool.acquire('my-export'), EngineBusyError);
    b?.release();
    const c = pool.acquire('my-export');
    assert.equal(c?.engine.version, 'my-export');
    assert.deepEqual(pool.loaded(), ['my-export']);
    await pool.close();
    assert.deepEqual(closed.sort(), ['my-export', 'whisper-small'], 'the default engine is its owner\'s to close');
  });
});
