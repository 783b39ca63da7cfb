/**
 * The `sori` CLI as users run it: a child process (`node --import tsx src/cli/sori.ts ...`), a
 * real models folder, and for `models pull` a real local `node:http` server shaped like the
 * Hugging Face Hub (`/{repo}/resolve/main/{path}`, LFS files redirected with X-Linked-Etag).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SHARED = resolve(process.env.SORI_MODELS_DIR ?? join(REPO, '..', 'shared', 'models'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Asynchronous on purpose: the hub server lives in this process and must keep answering. */
function sori(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = { ...process.env };
  delete base.SORI_MODELS_DIR;
  delete base.SORI_MODELS_MIRROR;
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/sori.ts', ...args],
      { cwd: REPO, env: { ...base, ...env }, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The whisper-tiny tree, with small generated stand-ins for the real files. */
function fakeWhisperTiny(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'added_tokens.json']) {
    files.set(name, Buffer.from(JSON.stringify({ file: name, n: randomBytes(4).toString('hex') })));
  }
  files.set('onnx/encoder_model_quantized.onnx', randomBytes(150_000));
  files.set('onnx/decoder_model_merged_quantized.onnx', randomBytes(250_000));
  return files; // special_tokens_map.json is deliberately absent: optional, so skipped
}

describe('sori CLI', () => {
  const files = fakeWhisperTiny();
  const requests: string[] = [];
  let server: Server;
  let mirror = '';
  const temps: string[] = [];

  before(async () => {
    const prefix = '/onnx-community/whisper-tiny/resolve/main/';
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      requests.push(url);
      if (url.startsWith('/cdn/')) {
        const body = [...files.values()].find((b) => url === `/cdn/${sha256(b)}`);
        if (!body) return void res.writeHead(404).end();
        return void res.writeHead(200, { 'content-length': String(body.length) }).end(body);
      }
      const path = url.startsWith(prefix) ? url.slice(prefix.length) : '';
      const body = files.get(path);
      if (!body) return void res.writeHead(404).end('Entry not found');
      if (path.endsWith('.onnx')) {
        return void res.writeHead(302, { location: `/cdn/${sha256(body)}`, 'x-linked-etag': `"${sha256(body)}"` }).end();
      }
      const gitSha1 = createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
      res.writeHead(200, { etag: `"${gitSha1}"`, 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    for (const d of temps) await rm(d, { recursive: true, force: true });
  });

  async function tempDir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'sori-cli-'));
    temps.push(d);
    return d;
  }

  test('--help prints usage on stdout', async () => {
    const r = await sori(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: sori <command>/);
    assert.match(r.stdout, /models pull <name>/);
    assert.match(r.stdout, /--mirror <url>/);
  });

  test('--version prints the package version', async () => {
    const r = await sori(['--version']);
    assert.equal(r.code, 0);
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(r.stdout.trim(), pkg.version);
  });

  test('models list shows what is installed in --dir', async () => {
    const r = await sori(['models', 'list', '--dir', SHARED]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`Models in ${SHARED}\n`), r.stdout);
    assert.match(r.stdout, /^NAME\s+KIND\s+SIZE\s+STATUS$/m);
    assert.match(r.stdout, /^whisper-base\s+asr\s+~\d+ MB\s+present$/m);
    assert.match(r.stdout, /^whisper-tiny\s+asr\s+~\d+ MB\s+missing$/m);
    assert.match(r.stdout, /^silero-vad\s+vad\s+~[\d.]+ MB\s+present$/m);
  });

  test('models list reads SORI_MODELS_DIR and marks hand-copied models', async () => {
    const dir = await tempDir();
    const r = await sori(['models', 'list'], { SORI_MODELS_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`Models in ${dir}\n`));
    assert.match(r.stdout, /^speaker-resemblyzer\s+speaker\s+\S+ MB\s+missing \(copy by hand\)$/m);
  });

  test('models pull downloads from the mirror into --dir, then finds it present', async () => {
    const dir = await tempDir();
    const r = await sori(['models', 'pull', 'whisper-tiny', '--dir', dir, '--mirror', mirror]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Pulling whisper-tiny into /);
    // Not a TTY here: plain lines, no progress-bar control characters.
    assert.doesNotMatch(r.stdout, /\u001b\[/);
    assert.match(r.stdout, /^onnx\/encoder_model_quantized\.onnx: downloaded 150 kB, sha256 verified \(from the server\)$/m);
    assert.match(r.stdout, /^config\.json: downloaded \d+ B, git blob id verified \(from the server\)$/m);
    assert.match(r.stdout, /^special_tokens_map\.json: skipped — optional, not published upstream$/m);
    assert.match(r.stdout, new RegExp(`^whisper-tiny is ready in ${join(dir, 'whisper-tiny').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));

    const installed = (await readdir(join(dir, 'whisper-tiny'), { recursive: true })).map(String).sort();
    assert.deepEqual(installed, [...files.keys(), 'onnx'].sort());
    for (const [path, body] of files) assert.deepEqual(await readFile(join(dir, 'whisper-tiny', path)), body, path);

    const list = await sori(['models', 'list', '--dir', dir]);
    assert.match(list.stdout, /^whisper-tiny\s+asr\s+\S+ MB\s+present$/m);

    const again = await sori(['models', 'pull', 'whisper-tiny', '--dir', dir, '--mirror', mirror]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^onnx\/decoder_model_merged_quantized\.onnx: already present, sha256 verified \(from the server\)$/m);
    assert.doesNotMatch(again.stdout, /: downloaded/);
  });

  test('models pull with the host unreachable exits 1 with the offline advice', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));

    const dir = await tempDir();
    const r = await sori(['models', 'pull', 'whisper-tiny', '--dir', dir], { SORI_MODELS_MIRROR: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^sori: Could not reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): this machine may be offline`));
    assert.match(r.stderr, /copy the whisper-tiny model folder into /);
  });

  test('models pull of a model without a public download exits 1 and says to copy it', async () => {
    const dir = await tempDir();
    const r = await sori(['models', 'pull', 'yamnet-int8', '--dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^sori: yamnet-int8 cannot be downloaded automatically \(model\.onnx, model\.data: /);
    assert.match(r.stderr, /Copy the yamnet-int8 folder into /);
  });

  test('usage errors exit 2 with a hint', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [[], /Usage: sori/],
      [['models'], /models needs a subcommand/],
      [['models', 'pull'], /models pull needs a model name/],
      [['models', 'pull', 'whisper-huge'], /Unknown model "whisper-huge"\. Known models: whisper-tiny/],
      [['models', 'list', '--frob'], /Unknown option '--frob'/],
      [['models', 'list', '--mirror', mirror], /--mirror only applies to `models pull`/],
      [['models', 'pull', 'whisper-tiny', '--mirror', 'not a url'], /the mirror must be an http\(s\) URL/],
    ];
    for (const [args, message] of cases) {
      const r = await sori(args);
      assert.equal(r.code, 2, `sori ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, `sori ${args.join(' ')}`);
    }
  });
});
