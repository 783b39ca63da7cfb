/**
 * The OpenAI-compatible API through OpenAI's Python SDK (test/api/openai/openai_sdk.py) against
 * the real server: every response format, word timestamps, a long file, streaming,
 * translations, models and errors, each checked by the client; this file checks that every
 * check ran and held.
 *
 * Needs the venv that scripts/test-clients/python-openai.sh makes (.test-tools/py with openai).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { registerSecrets } from '../../helpers/test-logs.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { KEY, startOpenAIStage, type OpenAIStage } from './stage.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PYTHON = join(ROOT, '.test-tools/py/bin/python');
const CLIENT = join(ROOT, 'test/api/openai/openai_sdk.py');
const WRONG_KEY = 'openai-python-sdk-wrong-secret';
const CHECKS = ['json', 'text', 'srt', 'vtt', 'verbose_json', 'long file', 'stream', 'translation', 'language identified', 'models', 'errors'];

let stage: OpenAIStage;

before(async () => {
  assert.ok(existsSync(PYTHON), 'no .test-tools/py: run scripts/test-clients/python-openai.sh');
  stage = await startOpenAIStage('openai-python-sdk');
  registerSecrets('presented', WRONG_KEY);
});
after(async () => {
  await stage?.close();
});

describe('OpenAI Python SDK', () => {
  it('every response format, word timestamps, a long file, streaming, translations, models and errors', async () => {
    const env = {
      ...process.env,
      SORI_BASE_URL: stage.baseURL,
      SORI_KEY: KEY,
      WRONG_KEY,
      JFK: join(testdataDir(), 'en/jfk.flac'),
      LONG: join(testdataDir(), 'en/jobs_dots.flac'),
      KOREAN: join(testdataDir(), 'ko/etts_neb00001.flac'),
      // The SDK reads these too: none of the machine's may reach the test.
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
    };
    const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
      const child = execFile(PYTHON, [CLIENT], { env, timeout: 600_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        resolve({ stdout, stderr, code: err === null ? 0 : ((err as { code?: number }).code ?? null) }),
      );
      child.stdin?.end();
    });
    const checks = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { check: string }).check);
    assert.equal(code, 0, `the client failed after ${checks.join(', ')}:\n${stderr}`);
    assert.deepEqual(checks, CHECKS);
  });
});
