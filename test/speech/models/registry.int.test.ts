/**
 * The registry and model resolution, against the real shared models folder
 * (SORI_MODELS_DIR, default <repo>/../shared/models) and real temp folders.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import {
  applyMirror,
  defaultModelsDir,
  getModel,
  listModels,
  ModelInfoSchema,
  ModelNotInstalledError,
  modelStatus,
  resolveModelDir,
  UnknownModelError,
} from '../../../src/speech/models/registry.js';

const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const SHARED = resolve(process.env.SORI_MODELS_DIR ?? join(REPO, '..', 'shared', 'models'));

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sori-models-test-'));
  temps.push(dir);
  return dir;
}
after(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

describe('registry', () => {
  test('knows the Whisper sizes and the helper models, each a valid entry', () => {
    const names = listModels().map((m) => m.name);
    assert.deepEqual(names, [
      'whisper-tiny',
      'whisper-base',
      'whisper-small',
      'whisper-medium',
      'whisper-large-v3-turbo',
      'silero-vad',
      'segmentation-pyannote-3.0',
      'speaker-resemblyzer',
      'speaker-campplus',
      'yamnet-int8',
    ]);
    for (const m of listModels()) assert.doesNotThrow(() => ModelInfoSchema.parse(m), m.name);
  });

  test('Whisper models use the ONNX community layout on Hugging Face', () => {
    const m = getModel('whisper-small');
    assert.equal(m.kind, 'asr');
    const required = m.files.filter((f) => !f.optional).map((f) => f.path);
    assert.deepEqual(required, [
      'config.json',
      'generation_config.json',
      'preprocessor_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'onnx/encoder_model_quantized.onnx',
      'onnx/decoder_model_merged_quantized.onnx',
    ]);
    for (const f of m.files) assert.equal(f.url, `https://huggingface.co/onnx-community/whisper-small/resolve/main/${f.path}`);
    assert.ok(getModel('whisper-large-v3-turbo').files.some((f) => f.optional && f.path.endsWith('.onnx_data')));
  });

  test('an unknown name lists the known ones', () => {
    assert.throws(() => getModel('whisper-huge'), (err: unknown) => {
      assert.ok(err instanceof UnknownModelError);
      assert.match(err.message, /Unknown model "whisper-huge"\. Known models: whisper-tiny, whisper-base, .*yamnet-int8/);
      return true;
    });
  });

  test('rejects entries whose paths could escape the model folder', () => {
    const base = getModel('whisper-base');
    for (const path of ['../x', '/etc/passwd', 'a/../../b', 'a\\b', 'a//b']) {
      assert.throws(() => ModelInfoSchema.parse({ ...base, files: [{ path }] }), { name: 'ZodError' }, path);
    }
  });

  test('registry checksums and sizes match the shared copies of those files', async () => {
    let checked = 0;
    for (const m of listModels()) {
      for (const f of m.files) {
        if (!f.sha256) continue;
        const path = join(SHARED, m.name, f.path);
        assert.equal(await sha256(path), f.sha256, `${m.name}/${f.path}`);
        if (f.size !== undefined) assert.equal(statSync(path).size, f.size, `${m.name}/${f.path}`);
        checked++;
      }
    }
    assert.ok(checked >= 5, `checked ${checked} files`);
  });
});

describe('applyMirror', () => {
  const url = 'https://huggingface.co/onnx-community/whisper-base/resolve/main/config.json';

  test('moves Hugging Face URLs onto the mirror, with or without a trailing slash or path', () => {
    assert.equal(applyMirror(url, 'https://hf-mirror.com'), 'https://hf-mirror.com/onnx-community/whisper-base/resolve/main/config.json');
    assert.equal(applyMirror(url, 'http://127.0.0.1:8080/hub/'), 'http://127.0.0.1:8080/hub/onnx-community/whisper-base/resolve/main/config.json');
  });

  test('leaves other hosts and the no-mirror case alone', () => {
    const gh = 'https://raw.githubusercontent.com/snakers4/silero-vad/v6.2/src/silero_vad/data/silero_vad.onnx';
    assert.equal(applyMirror(gh, 'https://hf-mirror.com'), gh);
    assert.equal(applyMirror(url, undefined), url);
  });
});

describe('defaultModelsDir', () => {
  test('uses SORI_MODELS_DIR, else ./models, resolved against the working directory', () => {
    assert.equal(defaultModelsDir({ SORI_MODELS_DIR: 'm' }, '/srv/sori'), '/srv/sori/m');
    assert.equal(defaultModelsDir({ SORI_MODELS_DIR: '/abs/models' }, '/srv/sori'), '/abs/models');
    assert.equal(defaultModelsDir({}, '/srv/sori'), '/srv/sori/models');
    assert.equal(defaultModelsDir({ SORI_MODELS_DIR: '' }, '/srv/sori'), '/srv/sori/models');
  });
});

describe('modelStatus and resolveModelDir on the shared models', () => {
  test('whisper-base is present', () => {
    assert.deepEqual(modelStatus(SHARED, 'whisper-base'), { name: 'whisper-base', present: true, missing: [], dir: join(SHARED, 'whisper-base') });
    assert.equal(resolveModelDir(SHARED, 'whisper-base'), join(SHARED, 'whisper-base'));
  });

  test('the helper models are present too', () => {
    for (const name of ['silero-vad', 'segmentation-pyannote-3.0', 'speaker-resemblyzer', 'yamnet-int8']) {
      assert.equal(modelStatus(SHARED, name).present, true, name);
    }
  });

  test('a missing model fails with one line naming the files and the fix', () => {
    const status = modelStatus(SHARED, 'whisper-tiny');
    assert.equal(status.present, false);
    assert.equal(status.missing.length, 7);
    assert.throws(() => resolveModelDir(SHARED, 'whisper-tiny'), (err: unknown) => {
      assert.ok(err instanceof ModelNotInstalledError);
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, /^Model "whisper-tiny" is not installed \(missing config\.json, generation_config\.json, .*and 3 more\) in /);
      assert.ok(err.message.includes(SHARED), err.message);
      assert.match(err.message, /run `sori models pull whisper-tiny` or copy the whisper-tiny folder into /);
      assert.deepEqual(err.missing, status.missing);
      return true;
    });
  });
});

describe('resolveModelDir on temp folders', () => {
  test('an incomplete model names exactly the missing files', async () => {
    const dir = await tempDir();
    const model = getModel('whisper-base');
    for (const f of model.files) {
      if (f.path.startsWith('onnx/')) continue;
      await mkdir(join(dir, 'whisper-base'), { recursive: true });
      await writeFile(join(dir, 'whisper-base', f.path), '{}');
    }
    assert.deepEqual(modelStatus(dir, 'whisper-base').missing, ['onnx/encoder_model_quantized.onnx', 'onnx/decoder_model_merged_quantized.onnx']);
    assert.throws(() => resolveModelDir(dir, 'whisper-base'), {
      message: `Model "whisper-base" is incomplete (missing onnx/encoder_model_quantized.onnx, onnx/decoder_model_merged_quantized.onnx) in ${dir}: run \`sori models pull whisper-base\` or copy the whisper-base folder into ${dir}.`,
    });
  });

  test('optional files do not count as missing', async () => {
    const dir = await tempDir();
    for (const f of getModel('silero-vad').files.filter((x) => !x.optional)) {
      await mkdir(join(dir, 'silero-vad'), { recursive: true });
      await writeFile(join(dir, 'silero-vad', f.path), 'x');
    }
    assert.equal(modelStatus(dir, 'silero-vad').present, true); // LICENSE is optional
  });

  test('a model without a public download only suggests copying it', async () => {
    const dir = await tempDir();
    assert.throws(() => resolveModelDir(dir, 'speaker-resemblyzer'), (err: unknown) => {
      assert.ok(err instanceof ModelNotInstalledError);
      assert.doesNotMatch(err.message, /models pull/);
      assert.match(err.message, /copy the speaker-resemblyzer folder into /);
      return true;
    });
  });

  test('a models folder that does not exist is called out', async () => {
    const dir = join(await tempDir(), 'nope');
    assert.throws(() => resolveModelDir(dir, 'whisper-base'), /which does not exist \(set SORI_MODELS_DIR\)/);
  });
});
