/**
 * Closing the diarizer while its worker thread is in a model run: the process must not abort.
 * `worker.terminate()` mid-run made onnxruntime's completion throw a C++ Napi::Error nothing
 * caught ("terminate called after throwing an instance of 'Napi::Error'", exit 134): SIGTERM
 * during a long-form job's diarization, found running deploy/compose.yaml in Docker. The worker
 * now finishes its run, releases its models and exits (speech/worker-stop.ts). Run in a child
 * process, since an abort would take the test runner down with it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { modelsDir } from '../../helpers/media-fixtures.js';

const script = `
import { loadDiarizer } from ${JSON.stringify(fileURLToPath(new URL('../../../src/speech/diarization/index.ts', import.meta.url)))};
const pcm = new Float32Array(16000 * 60).map((_, i) => Math.sin(i / 9) * 0.2 + Math.sin(i / 31) * 0.1);
for (const delayMs of [5, 40, 150, 400]) {
  const diarizer = await loadDiarizer(process.argv[1]);
  const session = diarizer.session();
  const pushed = session.push(pcm).then(() => 'done', (err) => 'failed: ' + err.message);
  await new Promise((r) => setTimeout(r, delayMs));
  await diarizer.close();
  console.log(delayMs, await pushed);
}
`;

test('the diarizer closes in the middle of a run without aborting the process', { timeout: 300_000 }, async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, modelsDir()], {
    timeout: 240_000,
  });
  assert.doesNotMatch(stderr, /terminate called/);
  assert.equal(stdout.trim().split('\n').length, 4, stdout);
});
