/**
 * Memory of one long-form job through the real server: a fresh server, the file uploaded async,
 * GET polled until the job ends, and the process tree's RSS (server + inference process +
 * ffmpeg/ffprobe) sampled meanwhile. The peak is the largest sum of current RSS over the tree
 * seen in one sample (VmHWM is per process and would count peaks that never coincide, and
 * ffmpeg's ends with it).
 */
import type { ServerHandle } from './server-process.js';
import { startServer, treeMemory } from './server-process.js';
import { resultText, waitForJob, uploadLongform, type LongformResultBody } from './longform-client.js';
import { log } from './progress.js';
import { round } from './stats.js';

export interface MemoryRun {
  label: string;
  file: string;
  audioS: number;
  bytes: number;
  state: string;
  message?: string;
  /** Upload start to the poll that saw the job finished. */
  wallS: number;
  uploadS: number;
  rtf: number;
  segments: number;
  textChars: number;
  /** Largest tree RSS sum in one sample, during the job (upload to finish), MB. */
  peakTreeMb: number;
  /** Per role (server / inference / ffmpeg ...): the largest RSS seen, MB. */
  peakByRoleMb: Record<string, number>;
  /** Tree RSS right before the upload (model loaded, idle), MB. */
  idleTreeMb: number;
  /** Sum of VmHWM over the tree at the end (an upper bound, startup included), MB. */
  hwmSumEndMb: number | null;
  samples: number;
  sampleEveryMs: number;
  /** Tree RSS every ~`seriesEveryS`: [seconds since upload, MB, progress %]. */
  series: [number, number, number][];
  serverLog: string;
}

export async function memoryRun(opts: {
  label: string;
  file: string;
  audioS: number;
  bytes: number;
  language: string;
  apiKey: string;
  modelsDir: string;
  env: Record<string, string>;
  entry: string;
  logPath: string;
  sampleEveryMs?: number;
  seriesEveryS?: number;
  /** More CLOVA params for the upload (e.g. diarization). */
  params?: Record<string, unknown>;
}): Promise<MemoryRun> {
  const every = opts.sampleEveryMs ?? 250;
  const seriesEvery = opts.seriesEveryS ?? 15;
  let server: ServerHandle | undefined;
  try {
    server = await startServer({ apiKey: opts.apiKey, modelsDir: opts.modelsDir, env: opts.env, entry: opts.entry, logPath: opts.logPath });
    const pid = server.pid;
    const sum = () => treeMemory(pid).reduce((s, p) => s + (Number.isFinite(p.rssMb) ? p.rssMb : 0), 0);
    // Let the warm-up's garbage settle before the idle figure.
    await new Promise((r) => setTimeout(r, 2000));
    const idleTreeMb = sum();
    let peakTreeMb = 0;
    const peakByRoleMb: Record<string, number> = {};
    const series: [number, number, number][] = [];
    let samples = 0;
    let progress = 0;
    const t0 = performance.now();
    let nextSeries = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const rows = treeMemory(pid);
        let total = 0;
        for (const r of rows) {
          if (!Number.isFinite(r.rssMb)) continue;
          total += r.rssMb;
          peakByRoleMb[r.role] = Math.max(peakByRoleMb[r.role] ?? 0, r.rssMb);
        }
        samples += 1;
        peakTreeMb = Math.max(peakTreeMb, total);
        const at = (performance.now() - t0) / 1000;
        if (at >= nextSeries) {
          series.push([round(at, 1), round(total, 1), progress]);
          nextSeries += seriesEvery;
        }
        await new Promise((r) => setTimeout(r, every));
      }
    })();
    let body: LongformResultBody | null = null;
    let uploadS = 0;
    try {
      log(`memory ${opts.label}: uploading ${opts.file} (${(opts.bytes / 1e6).toFixed(0)} MB, ${(opts.audioS / 60).toFixed(0)} min of audio)`);
      const up = await uploadLongform(server.baseUrl, opts.apiKey, opts.file, { ...opts.params, language: opts.language, completion: 'async' });
      uploadS = up.latencyS;
      const token = up.body?.token;
      if (up.status !== 200 || typeof token !== 'string') throw new Error(`upload answered ${up.status}: ${up.raw || up.error}`);
      let lastLogged = -1;
      body = await waitForJob(server.baseUrl, opts.apiKey, token, {
        pollMs: 2000,
        // A memory run of hours of audio has no deadline of its own.
        timeoutMs: 24 * 3600_000,
        onPoll: (b) => {
          if (typeof b?.progress === 'number') progress = b.progress;
          if (Math.floor(progress / 10) === lastLogged) return;
          lastLogged = Math.floor(progress / 10);
          log(`memory ${opts.label}: ${b?.result ?? 'unreachable'} ${progress}% after ${((performance.now() - t0) / 1000).toFixed(0)} s, tree RSS ${sum().toFixed(0)} MB (peak ${peakTreeMb.toFixed(0)})`);
        },
      });
      if (body === null) throw new Error(`job ${token}: no answer from the server`);
    } finally {
      sampling = false;
      await sampler;
    }
    const wallS = (performance.now() - t0) / 1000;
    const hwm = server.memory();
    const state = body?.result ?? 'unknown';
    const text = body && state === 'COMPLETED' ? resultText(body) : '';
    log(`memory ${opts.label}: ${state} in ${wallS.toFixed(0)} s (RTF ${(wallS / opts.audioS).toFixed(3)}), peak tree RSS ${peakTreeMb.toFixed(0)} MB`);
    return {
      label: opts.label,
      file: opts.file,
      audioS: round(opts.audioS, 3),
      bytes: opts.bytes,
      state,
      message: state === 'COMPLETED' ? undefined : body?.message,
      wallS: round(wallS, 1),
      uploadS: round(uploadS, 2),
      rtf: wallS / opts.audioS,
      segments: body?.segments?.length ?? 0,
      textChars: text.length,
      peakTreeMb: round(peakTreeMb, 1),
      peakByRoleMb: Object.fromEntries(Object.entries(peakByRoleMb).map(([k, v]) => [k, round(v, 1)])),
      idleTreeMb: round(idleTreeMb, 1),
      hwmSumEndMb: hwm ? round(hwm.peakMb, 1) : null,
      samples,
      sampleEveryMs: every,
      series,
      serverLog: opts.logPath,
    };
  } finally {
    if (server) await server.stop();
  }
}
