/**
 * deploy/compose.yaml for real, on a Docker host: builds the image from deploy/Dockerfile,
 * starts the whole stack (PostgreSQL, MinIO, three nodes, HAProxy) with generated secrets, and
 * checks through the load balancer what a team deploying it would try first:
 *
 *   - /healthz, a short recognition (jfk), a gRPC stream (NestService over HTTP/2) through :50051;
 *   - a 12-minute async job whose node process is SIGKILLed mid-way (a crash: the container
 *     restarts by its policy): the job completes once, resumed from its checkpoint, and the
 *     time from the kill to its resumption is measured against the lease (30 s in sori.yaml);
 *   - SIGTERM (`docker compose stop`) on a node holding a sync request, --drains times (6): exit
 *     code 0, 504 with the token at once, and the job completes on another node;
 *   - each container's memory (docker stats) after the run.
 *
 * Needs docker with compose, and models as real folders (not links out of the folder: the
 * containers see only the mount). Without Docker Hub, run deploy/test/offline-images.sh first.
 *
 *   SORI_MODELS_DIR=/path/to/models npm run bench:docker [-- --keep] [--skip-build] [--drains 6]
 *
 * Writes .bench/docker-latest.json.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { decodeFile } from '../src/media/decode.js';
import { sleep } from './lib/crash-cycle.js';
import { getJob, uploadLongform, waitForJob } from './lib/longform-client.js';
import { machineInfo, writeLatest } from './lib/output.js';
import { modelsDir, REPO_ROOT, testdataDir } from './lib/paths.js';
import { streamClip, toPcm16 } from './lib/stream-client.js';
import { round } from './lib/stats.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    keep: { type: 'boolean', default: false },
    'http-port': { type: 'string', default: '28080' },
    'grpc-port': { type: 'string', default: '28051' },
    'skip-build': { type: 'boolean', default: false },
    drains: { type: 'string', default: '6' },
  },
});
const run = promisify(execFile);
const DEPLOY = join(REPO_ROOT, 'deploy');
const t0 = Date.now();
const say = (msg: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);
const secret = () => randomBytes(18).toString('base64url');

const KEY = secret();
const LB = `http://127.0.0.1:${a['http-port']}`;
let envFile = '';

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024, timeout: 1_800_000 });
  return stdout;
}
const compose = (...args: string[]) => docker('compose', '-f', join(DEPLOY, 'compose.yaml'), '--env-file', envFile, ...args);

interface LogLine {
  time: number;
  pid: number;
  msg: string;
  token?: string;
  resumeAtMs?: number;
}
async function nodeLog(service: string): Promise<LogLine[]> {
  const out = await compose('logs', '--no-log-prefix', service);
  return out.split('\n').flatMap((l) => {
    try {
      const j = JSON.parse(l) as LogLine;
      return typeof j.msg === 'string' ? [j] : [];
    } catch {
      return [];
    }
  });
}
const NODES = ['sori1', 'sori2', 'sori3'];

async function waitJob(token: string, deadlineS: number): Promise<string> {
  return (await waitForJob(LB, KEY, token, { timeoutMs: deadlineS * 1000 }))?.result ?? 'no answer';
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sori-docker-'));
  envFile = join(dir, '.env');
  await writeFile(
    envFile,
    [
      `SORI_API_KEY=${KEY}`,
      `POSTGRES_PASSWORD=${secret()}`,
      'MINIO_ROOT_USER=minio-admin',
      `MINIO_ROOT_PASSWORD=${secret()}`,
      `SORI_S3_SECRET_ACCESS_KEY=${secret()}`,
      `SORI_MODELS_HOST_DIR=${process.env.SORI_MODELS_DIR ?? modelsDir()}`,
      `SORI_HTTP_PORT=${a['http-port']}`,
      `SORI_GRPC_PORT=${a['grpc-port']}`,
      // Three nodes share this machine's cores.
      'SORI_THREADS_PER_NODE=1',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const result: Record<string, unknown> = { bench: 'docker', date: new Date().toISOString(), machine: machineInfo() };
  try {
    if (!a['skip-build']) {
      say('docker build -f deploy/Dockerfile -t sori:local .');
      const b0 = Date.now();
      await run('docker', ['build', '-q', '-f', join(DEPLOY, 'Dockerfile'), '-t', 'sori:local', REPO_ROOT], { timeout: 1_800_000, maxBuffer: 16 * 1024 * 1024 });
      result.buildS = round((Date.now() - b0) / 1000, 1);
    }
    const size = (await docker('image', 'inspect', '-f', '{{.Size}}', 'sori:local')).trim();
    result.imageMB = Math.round(Number(size) / 1e6);
    say('docker compose up -d --wait');
    const u0 = Date.now();
    await compose('up', '-d', '--wait');
    result.upS = round((Date.now() - u0) / 1000, 1);

    // Through the load balancer.
    const health = await fetch(`${LB}/healthz`).then((r) => r.status);
    const jfk = join(testdataDir(), 'en/jfk.flac');
    const { pcm } = await decodeFile(jfk);
    const wav = await readFile(jfk);
    const stt = await fetch(`${LB}/recog/v1/stt?lang=Eng`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY, 'Content-Type': 'application/octet-stream' }, body: wav }).then(async (r) => ({ status: r.status, body: (await r.json()) as { text?: string } }));
    const stream = await streamClip(`127.0.0.1:${a['grpc-port']}`, KEY, toPcm16(pcm), 'en', 1000);
    result.throughLoadBalancer = { healthz: health, stt: { status: stt.status, text: stt.body.text }, grpcStream: { error: stream.error, text: stream.text } };
    say(`healthz ${health}, stt ${stt.status}, gRPC ${stream.error ?? 'ok'}`);

    // A crash mid-job.
    const long = join(testdataDir(), 'ko/long_etts_lmy_12min.flac');
    const up = await uploadLongform(LB, KEY, long, { language: 'ko-KR', completion: 'async' });
    const token = up.body?.token;
    if (typeof token !== 'string') throw new Error(`upload: ${up.status} ${up.raw}`);
    let runner = '';
    for (let i = 0; i < 120 && runner === ''; i++) {
      await sleep(500);
      for (const s of NODES) if ((await nodeLog(s)).some((l) => l.token === token && l.msg === 'job started')) runner = s;
    }
    await sleep(20_000);
    const before = (await getJob(LB, KEY, token)).body as { progress?: number } | null;
    const top = await docker('top', `sori-${runner}-1`, '-o', 'pid,args');
    const nodePid = /^\s*(\d+)\s+node dist\/main\.js/m.exec(top)?.[1];
    if (!nodePid) throw new Error(`no node process in ${runner}: ${top}`);
    say(`job ${token} on ${runner} at ${before?.progress ?? '?'}%: SIGKILL its node process (host pid ${nodePid})`);
    const killedAt = Date.now();
    process.kill(Number(nodePid), 'SIGKILL');
    const state = await waitJob(token, 900);
    const starts = (await Promise.all(NODES.map(async (s) => (await nodeLog(s)).filter((l) => l.token === token && l.msg === 'job started' && l.time > killedAt).map((l) => ({ node: s, ...l })))))
      .flat()
      .sort((x, y) => x.time - y.time);
    const completions = (await Promise.all(NODES.map(async (s) => (await nodeLog(s)).filter((l) => l.token === token && l.msg === 'job completed').length))).reduce((x, y) => x + y, 0);
    result.crash = {
      runner,
      progressAtKill: before?.progress ?? null,
      state,
      completedLines: completions,
      resumedBy: starts[0]?.node ?? null,
      resumeAfterS: starts[0] ? round((starts[0].time - killedAt) / 1000, 1) : null,
      resumeAtAudioS: starts[0] ? round((starts[0].resumeAtMs ?? 0) / 1000, 1) : null,
      endedAfterS: round((Date.now() - killedAt) / 1000, 1),
      restarts: Number((await docker('inspect', '-f', '{{.RestartCount}}', `sori-${runner}-1`)).trim()),
    };
    say(`crash: ${JSON.stringify(result.crash)}`);

    // SIGTERM on a node holding a sync request (sent to it directly, past the balancer), --drains
    // times over the nodes, at a different moment of the job each time.
    const dialog = join(testdataDir(), 'ko/dialog_etts_lmy_kih_3min.flac');
    const drains: Record<string, unknown>[] = [];
    for (let i = 0; i < Number(a.drains); i++) {
      const victim = NODES[i % NODES.length];
      const ip = (await docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', `sori-${victim}-1`)).trim();
      const sync = uploadLongform(`http://${ip}:8080`, KEY, dialog, { language: 'ko-KR', completion: 'sync' });
      await sleep(2000 + 1500 * i);
      const s0 = Date.now();
      await compose('stop', victim);
      const stopS = round((Date.now() - s0) / 1000, 1);
      const cut = await sync;
      const exitCode = Number((await docker('inspect', '-f', '{{.State.ExitCode}}', `sori-${victim}-1`)).trim());
      const tail = exitCode === 0 ? [] : (await compose('logs', '--no-log-prefix', '--tail', '8', victim)).split('\n').filter((l) => l && !l.includes('/healthz')).map((l) => l.slice(0, 300));
      await compose('start', victim);
      drains.push({ node: victim, stopS, exitCode, tail, answer: { status: cut.status, result: cut.body?.result ?? null, token: cut.body?.token ?? '', message: (cut.body as { message?: string } | null)?.message ?? null } });
      say(`drain ${i + 1}: ${JSON.stringify(drains.at(-1))}`);
    }
    const ends: string[] = [];
    for (const d of drains) {
      const token = (d.answer as { token: string }).token;
      ends.push(token ? await waitJob(token, 900) : 'no token');
    }
    result.drain = { runs: drains.length, exitCodes: drains.map((d) => d.exitCode), jobsCompleted: ends.filter((e) => e === 'COMPLETED').length, runsDetail: drains.map((d, i) => ({ ...d, jobState: ends[i] })) };

    const stats = await docker('stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}');
    result.memory = Object.fromEntries(stats.trim().split('\n').map((l) => l.split(' ')).map(([name, ...rest]) => [name, rest.join(' ').split(' / ')[0]]));
  } finally {
    if (!a.keep) await compose('down', '-v').catch((err: unknown) => say(`down: ${(err as Error).message}`));
    else say(`kept the stack; env file ${envFile}`);
    if (!a.keep) await rm(dir, { recursive: true, force: true });
    const path = writeLatest('docker', result);
    console.log(JSON.stringify(result, null, 2));
    say(`wrote ${path}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
