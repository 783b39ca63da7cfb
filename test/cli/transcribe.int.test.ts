/**
 * `sori transcribe` as users run it: the real CLI as a child process (`node --import tsx
 * src/cli/sori.ts transcribe ...`, output piped), real models, testdata recordings, and for
 * `--server` the real server (`src/main.ts`) as a child process. Both run greedy on 2 threads
 * (SORI_BEAM_SIZE, SORI_THREADS), so the in-process result and the server's can be compared.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parseSync } from 'subtitle';
import { z } from 'zod';
import { scoreClip } from '../../bench/lib/score.js';
import { freePort, startServer, type ServerHandle } from '../../bench/lib/server-process.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { registerSecrets, teeOutput } from '../helpers/test-logs.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const KEY = 'sori-transcribe-cli-test-secret';
const ENGINE_ENV = { SORI_BEAM_SIZE: '1', SORI_THREADS: '2' };

interface ManifestEntry {
  file: string;
  lang: string;
  duration_s: number;
  reference: string | null;
}

function clip(file: string): ManifestEntry & { path: string } {
  const lines = readFileSync(join(testdataDir(), 'manifest.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const entry = lines.map((l) => JSON.parse(l) as ManifestEntry).find((e) => e.file === file);
  if (entry === undefined) throw new Error(`${file} is not in the manifest`);
  return { ...entry, path: join(testdataDir(), file) };
}

const JFK = clip('en/jfk.flac');
const KO_SHORT = clip('ko/sensevoice_ko.flac');
const KO_LONGER = clip('ko/etts_ava00002.flac');
const TWO_SPEAKERS = clip('en/pyannote_sample_2spk.flac');
const LONG = clip('ko/long_etts_lmy_12min.flac');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Called once stderr has printed a line matching `when`. */
  onStderr?: { when: RegExp; then: (pid: number) => void };
}

/** The CLI with the test models and no server settings inherited from the test's environment. */
function sori(args: string[], opts: RunOptions = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, SORI_MODELS_DIR: modelsDir(), ...ENGINE_ENV, ...opts.env };
  if (opts.env?.SORI_SERVER === undefined) delete env.SORI_SERVER;
  if (opts.env?.SORI_API_KEY === undefined) delete env.SORI_API_KEY;
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/sori.ts'), 'transcribe', ...args], {
      cwd: opts.cwd ?? REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    teeOutput('sori-transcribe', child.stderr);
    let stdout = '';
    let stderr = '';
    let fired = false;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (!fired && opts.onStderr !== undefined && opts.onStderr.when.test(stderr)) {
        fired = true;
        opts.onStderr.then(child.pid!);
      }
    });
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
}

const ANSI = /\u001b\[/;

function assertPlain(run: Run): void {
  assert.doesNotMatch(run.stdout, ANSI, 'no escape codes on piped stdout');
  assert.doesNotMatch(run.stderr, ANSI, 'no escape codes on piped stderr');
}

/** Roughly right: the error rate against the manifest's reference (WER in English, CER otherwise). */
function assertHeard(entry: ManifestEntry, text: string, maxRate = 0.35): void {
  const score = scoreClip({ lang: entry.lang, reference: entry.reference ?? '' }, text);
  assert.ok(score.rate <= maxRate, `${entry.file}: ${score.metric} ${score.rate.toFixed(2)} for "${text}"`);
}

function srtText(srt: string): string {
  const cues = parseSync(srt).filter((n) => n.type === 'cue').map((n) => n.data as { start: number; end: number; text: string });
  assert.ok(cues.length >= 1, `no cues in:\n${srt}`);
  for (const c of cues) assert.ok(c.start < c.end, JSON.stringify(c));
  return cues.map((c) => c.text).join(' ');
}

const Body = z.object({
  result: z.literal('COMPLETED'),
  token: z.string(),
  text: z.string(),
  segments: z.array(z.object({
    start: z.number(),
    end: z.number(),
    text: z.string(),
    words: z.array(z.tuple([z.number(), z.number(), z.string()])),
    speaker: z.object({ label: z.string(), name: z.string() }).optional(),
  })),
  speakers: z.array(z.object({ label: z.string(), name: z.string() })),
});

/** What the in-process run and the server must agree on: everything but the job's token. */
function comparable(body: z.infer<typeof Body>): unknown {
  return { segments: body.segments, speakers: body.speakers, text: body.text };
}

/** The temp entries that native libraries leave in every run (not Sori's): onnxruntime's and tsx's. */
const THIRD_PARTY_TEMP = /^(mat-debug-\d+\.log|\.ses|tsx-\d+)$/;

describe('sori transcribe', () => {
  let work: string;
  let inProcessTwoSpeakers: z.infer<typeof Body> | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'sori-transcribe-test-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('usage errors exit 2 before loading anything (every case: test/cli/transcribe/args.test.ts)', async () => {
    const cases: [string[], RegExp][] = [
      [[], /needs at least one file/],
      [['--lang', 'xx', JFK.path], /--lang: expected one of/],
      [['--server', 'http://127.0.0.1:9', JFK.path], /needs the secret/],
    ];
    for (const [args, message] of cases) {
      const run = await sori(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /sori transcribe --help/);
      assert.equal(run.stdout, '');
    }
    const help = await sori(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes:[\s\S]*130/);
  });

  test('English to txt on stdout; a missing file fails alone (exit 1), the other is still done', async () => {
    const run = await sori(['--lang', 'en', 'no-such-file.wav', JFK.path]);
    assert.equal(run.code, 1, run.stderr);
    assertPlain(run);
    assert.match(run.stderr, /^no-such-file\.wav: failed: no such file$/m);
    assert.match(run.stderr, new RegExp(`^${JFK.path}: done in [\\d.]+ s \\([\\d.]+x real time\\)$`, 'm'));
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    // Several inputs on stdout: each result under its header, in the order given (failed ones left out).
    assert.match(run.stdout, new RegExp(`^==> ${JFK.path} <==\n`));
    assertHeard(JFK, run.stdout.replace(/^==>.*<==$/m, ''));
  });

  test('Korean to srt files with --out: one per input, named after it, nothing on stdout', async () => {
    const out = join(work, 'srt-out');
    const run = await sori(['--lang', 'ko', '--format', 'srt', '--out', out, KO_SHORT.path, KO_LONGER.path]);
    assert.equal(run.code, 0, run.stderr);
    assertPlain(run);
    assert.equal(run.stdout, '');
    assert.deepEqual((await readdir(out)).sort(), ['etts_ava00002.srt', 'sensevoice_ko.srt']);
    assertHeard(KO_SHORT, srtText(await readFile(join(out, 'sensevoice_ko.srt'), 'utf8')));
    assertHeard(KO_LONGER, srtText(await readFile(join(out, 'etts_ava00002.srt'), 'utf8')));
  });

  test('Korean to json: CLOVA\'s long-form result body', async () => {
    const run = await sori(['-l', 'ko-KR', '-f', 'json', KO_SHORT.path]);
    assert.equal(run.code, 0, run.stderr);
    assertPlain(run);
    const body = Body.parse(JSON.parse(run.stdout));
    assertHeard(KO_SHORT, body.text);
    assert.ok(body.segments.every((s) => s.words.length > 0), 'word timings');
    assert.deepEqual(body.speakers, [], 'no speakers without --diarize');
  });

  test('--diarize on a two-speaker recording finds more than one speaker', async () => {
    const run = await sori(['--lang', 'en', '--diarize', '--format', 'json', TWO_SPEAKERS.path]);
    assert.equal(run.code, 0, run.stderr);
    const body = Body.parse(JSON.parse(run.stdout));
    assert.ok(body.speakers.length > 1, JSON.stringify(body.speakers));
    assert.ok(new Set(body.segments.map((s) => s.speaker?.label)).size > 1);
    inProcessTwoSpeakers = body;
  });

  test('SIGINT during a long file: exit 130 quickly, no temp files, no partial output', async () => {
    const tmp = join(work, 'tmp');
    const out = join(work, 'interrupted-out');
    await mkdir(tmp);
    let signalledAt = 0;
    const run = await sori(['--diarize', '--out', out, LONG.path], {
      env: { TMPDIR: tmp },
      // Once recognition has produced progress, the pipeline is in full flight (ffmpeg, VAD, Whisper, speakers).
      onStderr: {
        when: /: \d+%/,
        then: (pid) => {
          signalledAt = Date.now();
          process.kill(pid, 'SIGINT');
        },
      },
    });
    assert.ok(signalledAt > 0, `never saw progress: ${run.stderr}`);
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /interrupted; stopping/);
    const stopMs = Date.now() - signalledAt;
    // Not a timing assertion on speed: the CLI's own grace period is 10 s; a clean stop is well inside it.
    assert.ok(stopMs < 10_000, `took ${stopMs} ms to stop`);
    assert.deepEqual((await readdir(tmp)).filter((n) => !THIRD_PARTY_TEMP.test(n)), [], 'no temp files of Sori left');
    assert.deepEqual(await readdir(out).catch(() => []), [], 'no partial output file');
  });

  describe('--server', () => {
    let server: ServerHandle;
    let models: string;

    before(async () => {
      registerSecrets('transcribe test server', KEY);
      models = modelsDir();
      server = await startServer({
        apiKey: KEY,
        modelsDir: models,
        env: { SORI_GRPC_PORT: String(await freePort()), ...ENGINE_ENV },
        logPath: join(tmpdir(), `sori-transcribe-server-${process.pid}.log`),
      });
    });
    after(async () => {
      await server?.stop();
    });

    test('the server gives the same segments, words and speakers as the in-process run', async () => {
      const run = await sori(['--lang', 'en', '--diarize', '--format', 'json', TWO_SPEAKERS.path], { env: { SORI_SERVER: server.baseUrl, SORI_API_KEY: KEY } });
      assert.equal(run.code, 0, run.stderr);
      assertPlain(run);
      assert.match(run.stderr, /done in [\d.]+ s \([\d.]+x real time\)/);
      const body = Body.parse(JSON.parse(run.stdout));
      assert.ok(inProcessTwoSpeakers !== undefined, 'the in-process --diarize test ran first');
      assert.deepEqual(comparable(body), comparable(inProcessTwoSpeakers));
    });

    test('subtitles through the server, the key from --key; a wrong key fails the file (exit 1)', async () => {
      const run = await sori(['--server', server.baseUrl, '--key', KEY, '-l', 'en', '-f', 'srt', JFK.path]);
      assert.equal(run.code, 0, run.stderr);
      assertHeard(JFK, srtText(run.stdout));
      const wrong = await sori(['--server', server.baseUrl, '--key', 'not-the-secret-at-all', JFK.path]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /failed: ERROR_INVALID_SECRET/);
    });

    test('SIGINT stops polling and prints the token of the job still running on the server (exit 130)', async () => {
      const run = await sori(['--server', server.baseUrl, LONG.path], {
        env: { SORI_API_KEY: KEY },
        onStderr: { when: /: \d+%/, then: (pid) => process.kill(pid, 'SIGINT') },
      });
      assert.equal(run.code, 130, run.stderr);
      const token = /still running on the server as job ([0-9a-f]{32}); fetch it with GET \/recognizer\/\1/.exec(run.stderr)?.[1];
      assert.ok(token !== undefined, run.stderr);
      const res = await fetch(`${server.baseUrl}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } });
      const status = (await res.json()) as { result: string };
      assert.ok(['WAITING', 'PROCESSING', 'COMPLETED'].includes(status.result), JSON.stringify(status));
    });
  });
});
