/**
 * The compatibility suite's Go client (test/compat/go/main.go): net/http and mime/multipart the
 * way a Go user writes them, `params` after `media`, against the real stage (harness.ts). It is
 * built once with the machine's Go, standard library only, with the module proxy and toolchain
 * downloads turned off so nothing is fetched; then run, and every answer it prints is checked by
 * the harness against CLOVA's schemas (the client itself checks that its params were honoured).
 * No Go on PATH is a failure that says so, not a skip.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, it } from 'node:test';
import type { SchemaName } from './clova-schemas.js';
import { startStage, type ClientAnswer, type Stage } from './harness.js';

const run = promisify(execFile);
const GO_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), 'go');

/** The answers the client must print, by shape, besides the polling ones. */
const EXPECTED: Array<[shape: string, schema: SchemaName, status: number]> = [
  ['upload sync: params by WriteField, after media', 'longformCompleted', 200],
  ['upload sync: params by CreatePart typed application/json, no filename, after media, lower-case key header', 'longformCompleted', 200],
  ['upload sync: params by CreateFormFile params.json, after media, streamed through io.Pipe', 'longformCompleted', 200],
  ['upload async + callback, then GET polling', 'longformAccepted', 200],
  ['upload async + callback, then GET polling: GET /recognizer/{token} (completed)', 'longformCompleted', 200],
  ['url sync: Content-Type application/json;UTF-8', 'longformCompleted', 200],
  ['object-storage sync: dataKey, lower-case key header', 'longformCompleted', 200],
  ['short: *os.File body, lang=Eng', 'shortSuccess', 200],
  ['short: graph=true', 'shortSuccess', 200],
  ['upload: wrong secret', 'longformError', 401],
];
const PENDING = 'upload async + callback, then GET polling: GET /recognizer/{token} (in progress)';

let buildDir: string;
let stage: Stage | undefined;

before(async () => {
  buildDir = await mkdtemp(join(tmpdir(), 'sori-compat-go-'));
});

after(async () => {
  await stage?.close();
  await rm(buildDir, { recursive: true, force: true });
});

/** Go's environment for the build: this machine's toolchain as it is, nothing downloaded. */
function goEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '', GOWORK: 'off', CGO_ENABLED: '0' };
  // Go needs a build cache; without HOME (some CI sandboxes) it has no default one.
  if (!env.GOCACHE && !env.XDG_CACHE_HOME && !env.HOME) env.GOCACHE = join(buildDir, 'gocache');
  return env;
}

async function buildClient(): Promise<string> {
  const env = goEnv();
  try {
    await run('go', ['version'], { env });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('go is not on PATH: the Go compatibility client (test/compat/go) needs Go 1.22 or newer (https://go.dev/dl/); scripts/install-test-services.sh needs it too');
    }
    throw err;
  }
  const binary = join(buildDir, 'sori-compat-go');
  try {
    await run('go', ['build', '-o', binary, '.'], { cwd: GO_DIR, env, timeout: 300_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`go build in test/compat/go failed: ${e.stderr ?? e.message}`);
  }
  return binary;
}

it('a Go client (net/http, mime/multipart): uploads with params after media in three part shapes, async with callback and polling, url, object storage, the short API, a bad secret', async (t) => {
  const binary = await buildClient();
  stage = await startStage();
  const answers: ClientAnswer[] = await stage.runClient(binary, [], { cwd: GO_DIR });

  const lines = answers.map((a) => `${a.shape} -> ${a.status} ${a.schema}`);
  for (const line of lines) t.diagnostic(`go: ${line}`);
  const summary = lines.join('\n');
  for (const a of answers) assert.equal(a.client, 'go', `${a.shape}: client`);
  for (const [shape, schema, status] of EXPECTED) {
    const got = answers.filter((a) => a.shape === shape);
    assert.equal(got.length, 1, `one answer for "${shape}"; got:\n${summary}`);
    assert.equal(got[0].schema, schema, shape);
    assert.equal(got[0].status, status, shape);
  }
  const accepted = answers.find((a) => a.shape === 'upload async + callback, then GET polling');
  assert.match(String(accepted?.callbackFor), /^[0-9a-f]{32}$/, 'the async upload promised a callback (the harness checked it arrived)');
  // Polls while the job runs (usually some, none if it finished before the first GET).
  const known = new Set([...EXPECTED.map(([shape]) => shape), PENDING]);
  assert.deepEqual(answers.filter((a) => !known.has(a.shape)), [], `unexpected answers; got:\n${summary}`);
  for (const a of answers.filter((x) => x.shape === PENDING)) assert.equal(a.schema, 'longformPending');
});
