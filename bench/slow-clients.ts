/**
 * node --import tsx bench/slow-clients.ts [options]   (--help for all)
 *
 * Slow clients against the real server (a child process, default settings unless a --config
 * file says otherwise): what hundreds of slowloris connections cost the clients that behave.
 *   1. Baseline: a healthy client probes GET /healthz (every 100 ms) and, beside it, short
 *      recognitions of a real clip back to back, for --baseline seconds.
 *   2. Attack: --connections sockets (500) held open from 127.0.0.10 onwards (--addresses of
 *      them, so the per-address cap lets them in; --addresses 1 shows the cap instead), half
 *      trickling headers (one header line every 10 s), half trickling a short-recognition body
 *      with a valid secret (one byte every 5 s). Every socket the server closes is opened again,
 *      so the number stays up. The same probes run for --attack seconds.
 *   3. Optionally (--upload-mb, default 2048), during the attack, a long-form upload of that
 *      size streamed as fast as the client can: does a big real upload still go through?
 * Reported: healthz and recognition latency p50/p99/max before and during, probe failures,
 * how long the server let attacker sockets live, what it answered them, and the upload's speed.
 * `runSlowClients` is exported for bench/hardening.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { finishRun, machineInfo, type Check } from './lib/output.js';
import { modelsDir, OUT_DIR, testdataDir } from './lib/paths.js';
import { log } from './lib/progress.js';
import { startServer, type ServerHandle } from './lib/server-process.js';
import { percentile } from './lib/stats.js';
import { formatTable } from './lib/table.js';

export interface SlowClientsOptions {
  /** Attacking sockets held open at once. */
  connections: number;
  /** Loopback addresses they come from (127.0.0.10 onwards). */
  addresses: number;
  baselineS: number;
  attackS: number;
  /** A long-form upload of this many MiB during the attack; 0: none. */
  uploadMb: number;
  /** A short clip for the recognition probe. */
  clip: string;
  /** A config file for the server (SORI_CONFIG); default: none, the defaults. */
  configFile?: string;
  /** Extra SORI_* settings of the server. */
  env?: Record<string, string>;
  /** An already running server instead of starting one (its key and port). */
  server?: { baseUrl: string; apiKey: string };
}

export interface LatencyStats {
  probes: number;
  failures: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface PhaseResult {
  healthz: LatencyStats;
  recognition: LatencyStats;
}

export interface AttackStats {
  /** Sockets opened over the attack, reopenings included. */
  opened: number;
  /** Closed by the server while the attack ran. */
  closedByServer: number;
  /** Closed within 1 s of connecting with no byte answered: refused at accept (per-address cap). */
  refusedAtAccept: number;
  /** What the server answered before closing, by status line ("none": closed silently). */
  answers: Record<string, number>;
  /** How long the server let a socket live, by kind, seconds. */
  lifetimeS: { headers: LatencyLike; body: LatencyLike };
  /** Attacking sockets open, sampled every second during the measured phase. */
  openMin: number;
  openMean: number;
}

type LatencyLike = { count: number; p50: number | null; max: number | null };

export interface UploadResult {
  mb: number;
  status: number;
  result: string;
  seconds: number;
  mbPerS: number;
}

export interface SlowClientsResult {
  connections: number;
  addresses: number;
  fdLimit: number;
  baseline: PhaseResult;
  attack: PhaseResult;
  attacker: AttackStats;
  upload: UploadResult | null;
  /** sori_http_connections_closed_total by reason, at the end. */
  serverClosed: Record<string, number>;
}

const KEY = 'slow-clients-bench-secret';
const HEADER_DRIP_MS = 10_000;
const BODY_DRIP_MS = 5_000;
const REFUSED_WITHIN_MS = 1000;

// ---------------------------------------------------------------------------------------------
// File descriptors

/** The soft limit on open files, raised to the hard limit first when prlimit can (like `ulimit -n` in a shell). */
export function raiseFdLimit(): number {
  const read = (): { soft: number; hard: number } => {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
    const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
    const n = (s: string | undefined) => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(soft), hard: n(hard) };
  };
  try {
    const { soft, hard } = read();
    if (soft < hard && Number.isFinite(hard)) {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`]);
    }
    return read().soft;
  } catch {
    return 1024;
  }
}

// ---------------------------------------------------------------------------------------------
// Probes

function stats(latencies: number[], failures: number): LatencyStats {
  const r = (x: number) => (Number.isFinite(x) ? Math.round(x) : null);
  return { probes: latencies.length, failures, p50Ms: r(percentile(latencies, 50)), p99Ms: r(percentile(latencies, 99)), maxMs: r(percentile(latencies, 100)) };
}

/** A probe loop: `once` again and again (`pauseMs` apart) until `until`; its latencies and failures. */
async function probeLoop(once: () => Promise<boolean>, pauseMs: number, until: number): Promise<LatencyStats> {
  const latencies: number[] = [];
  let failures = 0;
  while (Date.now() < until) {
    const t0 = performance.now();
    let ok = false;
    try {
      ok = await once();
    } catch {
      ok = false;
    }
    latencies.push(performance.now() - t0);
    if (!ok) failures++;
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  return stats(latencies, failures);
}

async function measurePhase(baseUrl: string, apiKey: string, clip: Uint8Array<ArrayBuffer>, seconds: number): Promise<PhaseResult> {
  const until = Date.now() + seconds * 1000;
  const healthz = () =>
    fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(30_000) }).then(async (r) => {
      await r.arrayBuffer();
      return r.status === 200;
    });
  const recognition = () =>
    fetch(`${baseUrl}/recog/v1/stt?lang=Eng`, {
      method: 'POST',
      headers: { 'X-CLOVASPEECH-API-KEY': apiKey, 'Content-Type': 'application/octet-stream' },
      body: clip,
      signal: AbortSignal.timeout(120_000),
    }).then(async (r) => {
      const body = (await r.json()) as { text?: unknown };
      return r.status === 200 && typeof body.text === 'string' && body.text.length > 0;
    });
  const [h, s] = await Promise.all([probeLoop(healthz, 100, until), probeLoop(recognition, 0, until)]);
  return { healthz: h, recognition: s };
}

// ---------------------------------------------------------------------------------------------
// The attack

type Kind = 'headers' | 'body';

class Attack {
  private running = true;
  private readonly sockets = new Set<Socket>();
  readonly lifetimes: Record<Kind, number[]> = { headers: [], body: [] };
  readonly answers: Record<string, number> = {};
  opened = 0;
  closedByServer = 0;
  refusedAtAccept = 0;

  constructor(private readonly port: number, private readonly apiKey: string, private readonly addresses: string[]) {}

  get open(): number {
    return this.sockets.size;
  }

  /** Opens `n` slots in batches (the listen backlog is finite); each reopens when the server closes it. */
  async start(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.slot(i % 2 === 0 ? 'headers' : 'body', this.addresses[i % this.addresses.length]);
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 100));
    }
  }

  private slot(kind: Kind, localAddress: string): void {
    if (!this.running) return;
    const socket = connect({ host: '127.0.0.1', port: this.port, localAddress });
    const opened = Date.now();
    let answered = '';
    let drip: NodeJS.Timeout | undefined;
    this.opened++;
    this.sockets.add(socket);
    socket.on('data', (d: Buffer) => {
      if (answered.length < 64) answered += d.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      if (kind === 'headers') {
        socket.write('GET /healthz HTTP/1.1\r\nHost: sori\r\n');
        let n = 0;
        drip = setInterval(() => socket.write(`X-Slow-${n++}: a\r\n`), HEADER_DRIP_MS);
      } else {
        socket.write(
          `POST /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: sori\r\nX-CLOVASPEECH-API-KEY: ${this.apiKey}\r\n` +
            'Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n',
        );
        drip = setInterval(() => socket.write(Buffer.alloc(1)), BODY_DRIP_MS);
      }
    });
    socket.once('close', () => {
      clearInterval(drip);
      this.sockets.delete(socket);
      if (!this.running) return;
      const lived = Date.now() - opened;
      this.closedByServer++;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answered)?.[1] ?? 'none';
      this.answers[status] = (this.answers[status] ?? 0) + 1;
      if (status === 'none' && lived < REFUSED_WITHIN_MS) this.refusedAtAccept++;
      else this.lifetimes[kind].push(lived / 1000);
      // Reopen at once, as an attacker would; a refused one waits a little (it would be refused again).
      setTimeout(() => this.slot(kind, localAddress), status === 'none' && lived < REFUSED_WITHIN_MS ? 200 : 10);
    });
  }

  stop(): void {
    this.running = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

function lifetime(xs: number[]): LatencyLike {
  const r = (x: number) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);
  return { count: xs.length, p50: r(percentile(xs, 50)), max: r(percentile(xs, 100)) };
}

// ---------------------------------------------------------------------------------------------
// A big upload, streamed

async function bigUpload(baseUrl: string, apiKey: string, mb: number): Promise<UploadResult> {
  const boundary = 'sori-bench-boundary';
  const head = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n${JSON.stringify({ language: 'en-US', completion: 'async' })}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
  const chunk = new Uint8Array(1024 * 1024);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(head);
    },
    pull(controller) {
      if (sent < mb) {
        sent++;
        controller.enqueue(chunk);
      } else {
        controller.enqueue(tail);
        controller.close();
      }
    },
  });
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/recognizer/upload`, {
    method: 'POST',
    headers: {
      'X-CLOVASPEECH-API-KEY': apiKey,
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Content-Length': String(head.length + mb * chunk.length + tail.length),
    },
    body,
    duplex: 'half',
  } as RequestInit & { duplex: 'half' });
  const answer = (await res.json()) as { result?: unknown };
  const seconds = (performance.now() - t0) / 1000;
  return { mb, status: res.status, result: String(answer.result), seconds: Math.round(seconds * 10) / 10, mbPerS: Math.round(mb / seconds) };
}

// ---------------------------------------------------------------------------------------------
// The run

async function closedByReason(baseUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^sori_http_connections_closed_total\{reason="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

export async function runSlowClients(opts: SlowClientsOptions): Promise<SlowClientsResult> {
  const fdLimit = raiseFdLimit();
  // This process holds the attack's sockets and the probes'; the server the same number again.
  const connections = Math.min(opts.connections, Math.max(0, fdLimit - 200));
  if (connections < opts.connections) log(`open-file limit ${fdLimit}: ${connections} connections instead of ${opts.connections}`);
  const addresses = Array.from({ length: Math.max(1, opts.addresses) }, (_, i) => `127.0.0.${10 + i}`);
  const clip = new Uint8Array(readFileSync(opts.clip));

  let server: ServerHandle | undefined;
  let baseUrl: string;
  let apiKey: string;
  if (opts.server !== undefined) {
    ({ baseUrl, apiKey } = opts.server);
  } else {
    log('starting the server');
    server = await startServer({
      apiKey: KEY,
      modelsDir: modelsDir(),
      env: { ...(opts.configFile === undefined ? {} : { SORI_CONFIG: resolve(opts.configFile) }), ...opts.env },
      logPath: join(OUT_DIR, 'slow-clients-server.log'),
    });
    baseUrl = server.baseUrl;
    apiKey = KEY;
  }
  const attack = new Attack(Number(new URL(baseUrl).port), apiKey, addresses);
  try {
    // One recognition first: the model's first run is slower than the rest.
    await measurePhase(baseUrl, apiKey, clip, 1);
    log(`baseline: ${opts.baselineS} s of probes`);
    const baseline = await measurePhase(baseUrl, apiKey, clip, opts.baselineS);

    log(`attack: opening ${connections} slow connections from ${addresses.length} address(es)`);
    await attack.start(connections);
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(attack.open), 1000);
    log(`attack: ${opts.attackS} s of probes`);
    const during = await measurePhase(baseUrl, apiKey, clip, opts.attackS);
    clearInterval(sampler);
    let upload: UploadResult | null = null;
    if (opts.uploadMb > 0) {
      log(`attack: a ${opts.uploadMb} MB long-form upload`);
      upload = await bigUpload(baseUrl, apiKey, opts.uploadMb);
    }
    attack.stop();
    return {
      connections,
      addresses: addresses.length,
      fdLimit,
      baseline,
      attack: during,
      attacker: {
        opened: attack.opened,
        closedByServer: attack.closedByServer,
        refusedAtAccept: attack.refusedAtAccept,
        answers: attack.answers,
        lifetimeS: { headers: lifetime(attack.lifetimes.headers), body: lifetime(attack.lifetimes.body) },
        openMin: samples.length > 0 ? Math.min(...samples) : 0,
        openMean: samples.length > 0 ? Math.round(samples.reduce((a, b) => a + b, 0) / samples.length) : 0,
      },
      upload,
      serverClosed: await closedByReason(baseUrl),
    };
  } finally {
    attack.stop();
    await server?.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

const HELP = `usage: node --import tsx bench/slow-clients.ts [options]
  --connections 500     slow sockets held open during the attack
  --addresses 10        loopback addresses they come from (127.0.0.10 ...); 1 shows the per-address cap
  --baseline 30         seconds of probes before the attack
  --attack 60           seconds of probes during it
  --upload-mb 2048      a long-form upload of this size during the attack (0: none)
  --clip FILE           the recognition probe's clip (default testdata en/ps_goforward.flac)
  --config FILE         the server's config file (SORI_CONFIG); default: the defaults
  --json                result JSON on stdout
  --strict              exit 1 when a check FAILs
The result is written to .bench/slow-clients-latest.json, the server log to .bench/slow-clients-server.log.`;

function row(name: string, s: LatencyStats): Array<string | number | null> {
  return [name, s.probes, s.failures, s.p50Ms, s.p99Ms, s.maxMs];
}

function report(r: SlowClientsResult & { checks: Check[] }): string {
  const lines = [
    `Slow clients: ${r.connections} connections from ${r.addresses} address(es) (open-file limit ${r.fdLimit})`,
    '',
    formatTable(['probe', 'n', 'failed', 'p50 ms', 'p99 ms', 'max ms'], [
      row('healthz, before', r.baseline.healthz),
      row('healthz, during', r.attack.healthz),
      row('recognition, before', r.baseline.recognition),
      row('recognition, during', r.attack.recognition),
    ]),
    '',
    `attacker: ${r.attacker.opened} sockets opened, ${r.attacker.closedByServer} closed by the server ` +
      `(${r.attacker.refusedAtAccept} at once at accept); open during the probes: min ${r.attacker.openMin}, mean ${r.attacker.openMean}`,
    `  answers before closing: ${Object.entries(r.attacker.answers).map(([k, v]) => `${k} x${v}`).join(', ') || '-'}`,
    `  lifetime, headers trickling: p50 ${r.attacker.lifetimeS.headers.p50} s, max ${r.attacker.lifetimeS.headers.max} s (${r.attacker.lifetimeS.headers.count})`,
    `  lifetime, body trickling:    p50 ${r.attacker.lifetimeS.body.p50} s, max ${r.attacker.lifetimeS.body.max} s (${r.attacker.lifetimeS.body.count})`,
    `server: sori_http_connections_closed_total ${JSON.stringify(r.serverClosed)}`,
  ];
  if (r.upload !== null) {
    lines.push(`upload during the attack: ${r.upload.mb} MB, ${r.upload.status} ${r.upload.result}, ${r.upload.seconds} s (${r.upload.mbPerS} MB/s)`);
  }
  lines.push('', formatTable(['check', 'value', 'target', 'status'], r.checks.map((c) => [c.name, c.value, c.target, c.status])));
  return lines.join('\n');
}

export async function slowClientsCli(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string', default: '500' },
      addresses: { type: 'string', default: '10' },
      baseline: { type: 'string', default: '30' },
      attack: { type: 'string', default: '60' },
      'upload-mb': { type: 'string', default: '2048' },
      clip: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (a.help) {
    console.log(HELP);
    return 0;
  }
  const r = await runSlowClients({
    connections: Number(a.connections),
    addresses: Number(a.addresses),
    baselineS: Number(a.baseline),
    attackS: Number(a.attack),
    uploadMb: Number(a['upload-mb']),
    clip: a.clip ?? join(testdataDir(), 'en', 'ps_goforward.flac'),
    configFile: a.config,
  });
  const checks: Check[] = [
    {
      name: 'probes failed during the attack',
      value: String(r.attack.healthz.failures + r.attack.recognition.failures),
      target: '0',
      status: r.attack.healthz.failures + r.attack.recognition.failures === 0 ? 'PASS' : 'FAIL',
    },
    {
      name: 'attacking sockets held open',
      value: `mean ${r.attacker.openMean} (min ${r.attacker.openMin})`,
      target: `about ${r.connections}`,
      status: 'info',
    },
    {
      name: 'healthz p99, during / before',
      value: `${r.attack.healthz.p99Ms} / ${r.baseline.healthz.p99Ms} ms`,
      target: '-',
      status: 'info',
    },
    {
      name: 'recognition p50, during / before',
      value: `${r.attack.recognition.p50Ms} / ${r.baseline.recognition.p50Ms} ms`,
      target: '-',
      status: 'info',
    },
  ];
  if (r.upload !== null) {
    checks.push({ name: 'upload during the attack', value: `${r.upload.status} ${r.upload.result}`, target: '200 SUCCEEDED', status: r.upload.status === 200 && r.upload.result === 'SUCCEEDED' ? 'PASS' : 'FAIL' });
  }
  return finishRun('slow-clients', { ...r, checks, machine: machineInfo() }, report, a);
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href;
}

if (isEntryPoint()) {
  slowClientsCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
