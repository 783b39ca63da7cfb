import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { speakerModel } from '../../../src/speech/diarization/index.js';

test('speakerModel: CAM++ when the folder has it, GE2E otherwise (or when asked for)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sori-speaker-model-'));
  try {
    assert.equal(speakerModel(dir).name, 'speaker-resemblyzer');
    mkdirSync(join(dir, 'speaker-campplus'));
    writeFileSync(join(dir, 'speaker-campplus', 'campplus.onnx'), 'x');
    assert.equal(speakerModel(dir).name, 'speaker-campplus');
    assert.equal(speakerModel(dir, 'speaker-resemblyzer').name, 'speaker-resemblyzer');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
