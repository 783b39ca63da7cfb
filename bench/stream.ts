/**
 * npm run bench:stream -- [--lang ko] [--limit N] [--levels 1,2,4,8] [--chunks 100,1000] [--parallel 1] [--json]
 *
 * --parallel N: inference processes (SORI_PARALLEL), the 2 threads split between them.
 * --levels-only: the single-stream part and CER on 3 clips only (a quick look at the levels).
 * --together: the concurrent streams start in the same instant, so every stream's chunks reach the
 *   server at once (the worst case); by default their starts are spread over one chunk's time.
 * --chunks: chunk sizes (ms) for the concurrent levels. 1000 is CLOVA's official samples' shape:
 *   1 s chunks with `epFlag` on the last one; other sizes end with an empty `epFlag` chunk.
 *
 * Real-time streaming through the real server's gRPC NestService: simulated clients send
 * testdata clips as 16-bit PCM in 100 ms chunks at the pace of the clock, then `epFlag:true`.
 *   1. one stream, clip after clip: latency from epFlag to its final (p50, p95); then again with
 *      each clip cut 0.1 s after its last loud frame (epFlag as the speaker stops: the server
 *      has no trailing silence to decode in), reported beside it
 *   2. the same clips through POST /recog/v1/stt: CER of streamed finals against short recognition
 *   3. N concurrent streams for each level: final latency p95, and whether every stream keeps
 *      up (no final arrives more than 1.5 s after its audio ended); the largest N that keeps up.
 *      A gap final's audio ends where its pause reached the gap threshold: the server cannot
 *      answer before, whatever its speed (the lag is counted from the last word's end + 500 ms,
 *      which overstates it by the VAD's tail). "After last word" is the lag from the speech itself.
 */
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { decodeFile } from '../src/media/decode.js';
import { loadManifest, manifestPath, selectClips, type Clip } from './lib/manifest.js';
import { modelsDir, OUT_DIR, testdataDir } from './lib/paths.js';
import { freePort, startServer } from './lib/server-process.js';
import { Bodies, recognise } from './lib/client.js';
import { cutAfterSpeech, streamClip, toPcm16, type StreamRun } from './lib/stream-client.js';
import { corpusRates, NORMALISATION_NOTE, scoreClip } from './lib/score.js';
import { percentile, round } from './lib/stats.js';
import { formatTable, pct } from './lib/table.js';
import { machineInfo, writeLatest } from './lib/output.js';
import { log } from './lib/progress.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

// Issue 21: 16 streams keep up (worst lag of a final behind its audio <= 1.5 s) with final p95 <= 1 s, per chunk size.
const TARGETS = { p50Ms: 400, p95Ms: 800, concurrentP95Ms: 1000, concurrentStreams: 16, cerPoints: 2, keepUpLagMs: 1500 };

const { values: a } = parseArgs({
  options: {
    lang: { type: 'string', default: 'ko' },
    limit: { type: 'string' },
    levels: { type: 'string', default: '1,2,4,8' },
    chunks: { type: 'string', default: '100,1000' },
    parallel: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    // Only the concurrent levels: for trying a change quickly (the single-stream part and CER take ~10 min).
    'levels-only': { type: 'boolean', default: false },
    together: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  const testdata = testdataDir();
  const clips = selectClips(loadManifest(manifestPath(testdata)), testdata, {
    tag: 'quick', lang: a.lang, maxS: 60, limit: a.limit === undefined ? undefined : Number(a.limit),
  });
  log(`${clips.length} ${a.lang} clips, ${round(clips.reduce((s, c) => s + c.durationS, 0), 0)} s of audio`);
  const pcm = new Map<string, Buffer>();
  const cut = new Map<string, Buffer>();
  const cutS: number[] = [];
  for (const c of clips) {
    const decoded = (await decodeFile(c.path)).pcm;
    pcm.set(c.path, toPcm16(decoded));
    const trimmed = cutAfterSpeech(decoded);
    cut.set(c.path, toPcm16(trimmed.pcm));
    cutS.push(trimmed.cutS);
  }
  log(`trailing silence after the last loud frame + 0.1 s: p50 ${round(percentile(cutS, 50), 2)} s, p95 ${round(percentile(cutS, 95), 2)} s`);

  const apiKey = randomBytes(16).toString('hex');
  const grpcPort = await freePort();
  // The default domain allows 15 streams at once; the levels go beyond.
  const configDir = mkdtempSync(join(tmpdir(), 'sori-bench-stream-'));
  const configFile = join(configDir, 'sori.yaml');
  writeFileSync(configFile, 'domains:\n  - name: general\n    limits:\n      maxConcurrentStreams: 64\n');
  const server = await startServer({
    apiKey, modelsDir: modelsDir(), env: { SORI_CONFIG: configFile, SORI_GRPC_PORT: String(grpcPort), SORI_THREADS: '2', SORI_PARALLEL: a.parallel ?? '1', SORI_LOG_LEVEL: 'warn' },
    logPath: join(OUT_DIR, 'stream-server.log'),
  });
  const target = `127.0.0.1:${grpcPort}`;
  try {
    // Warm-up: the VAD model loads on the first stream.
    await streamClip(target, apiKey, pcm.get(clips[0].path)!.subarray(0, 32000), a.lang);

    const quick = a['levels-only'] === true;
    log('1 stream, clip after clip (real time)...');
    const single: Array<{ clip: Clip; run: StreamRun }> = [];
    for (const clip of quick ? clips.slice(0, 3) : clips) single.push({ clip, run: await streamClip(target, apiKey, pcm.get(clip.path)!, a.lang) });
    const epMs = single.map((s) => s.run.epLatencyMs).filter((x): x is number => x !== null);
    log('1 stream, clips cut right after the speech...');
    const cutRuns: StreamRun[] = [];
    for (const clip of quick ? [] : clips) cutRuns.push(await streamClip(target, apiKey, cut.get(clip.path)!, a.lang));
    const cutMs = cutRuns.map((r) => r.epLatencyMs).filter((x): x is number => x !== null);

    log('the same clips through POST /recog/v1/stt...');
    const bodies = new Bodies();
    const short = [];
    for (const clip of quick ? clips.slice(0, 3) : clips) short.push({ clip, res: await recognise(server.baseUrl, apiKey, clip, bodies.get(clip)) });
    const streamCer = corpusRates(single.map((s) => ({ lang: s.clip.lang, score: scoreClip({ lang: s.clip.lang, reference: s.clip.reference, referenceSpelled: s.clip.referenceSpelled }, s.run.text) })))[0];
    const shortCer = corpusRates(short.map((s) => ({ lang: s.clip.lang, score: scoreClip({ lang: s.clip.lang, reference: s.clip.reference, referenceSpelled: s.clip.referenceSpelled }, s.res.text ?? '') })))[0];

    const levels: Array<{ chunkMs: number; streams: number; p50: number; p95: number; maxLag: number; maxSpeechLag: number; keepsUp: boolean; errors: number; errorSamples: string[] }> = [];
    const chunkSizes = (a.chunks ?? '100').split(',').map(Number).filter((x) => x > 0);
    for (const chunkMs of chunkSizes) for (const n of (a.levels ?? '').split(',').map(Number).filter((x) => x > 1)) {
      log(`${n} concurrent streams, ${chunkMs} ms chunks...`);
      const epOnLast = chunkMs >= 1000;
      // Each stream plays clips in turn (offset so they differ) for about one pass of the set / n, at least 30 s.
      const perStream = Math.max(2, Math.ceil(clips.length / n));
      const runs = await Promise.all(
        Array.from({ length: n }, async (_, s) => {
          // Independent clients' chunks do not arrive in the same instant: the streams start spread
          // over one chunk's time (--together: all at once, every chunk of every stream together).
          if (!a.together) await new Promise((r) => setTimeout(r, (s * chunkMs) / n));
          const out: StreamRun[] = [];
          for (let k = 0; k < perStream; k++) out.push(await streamClip(target, apiKey, pcm.get(clips[(s * perStream + k) % clips.length].path)!, a.lang, chunkMs, epOnLast));
          return out;
        }),
      );
      const flat = runs.flat();
      const eps = flat.map((r) => r.epLatencyMs).filter((x): x is number => x !== null);
      const lags = [...eps, ...flat.flatMap((r) => r.gapLagMs)];
      const maxLag = lags.length > 0 ? Math.max(...lags) : 0;
      const speechLags = [...eps, ...flat.flatMap((r) => r.speechLagMs)];
      const maxSpeechLag = speechLags.length > 0 ? Math.max(...speechLags) : 0;
      const errors = flat.flatMap((r) => (r.error === null ? [] : [r.error]));
      levels.push({ chunkMs, streams: n, p50: percentile(eps, 50), p95: percentile(eps, 95), maxLag, maxSpeechLag, keepsUp: maxLag <= TARGETS.keepUpLagMs && errors.length === 0, errors: errors.length, errorSamples: [...new Set(errors)].slice(0, 3) });
    }

    const p50 = percentile(epMs, 50);
    const p95 = percentile(epMs, 95);
    const largest = [1, ...levels.filter((l) => l.keepsUp && l.chunkMs === chunkSizes[0]).map((l) => l.streams)].reduce((m, x) => Math.max(m, x), 1);
    const cerDiff = (streamCer.rate - shortCer.rate) * 100;
    const checks = [
      { name: 'final after epFlag, 1 stream, p50', value: `${Math.round(p50)} ms`, target: `<= ${TARGETS.p50Ms} ms`, pass: p50 <= TARGETS.p50Ms },
      { name: 'final after epFlag, 1 stream, p95', value: `${Math.round(p95)} ms`, target: `<= ${TARGETS.p95Ms} ms`, pass: p95 <= TARGETS.p95Ms },
      ...levels.filter((l) => l.streams === TARGETS.concurrentStreams).map((l) => ({
        name: `${l.streams} concurrent streams, ${l.chunkMs} ms chunks: final p95, keeping up`,
        value: `${Math.round(l.p95)} ms, max lag ${Math.round(l.maxLag)} ms, ${l.keepsUp ? 'keeps up' : 'falls behind'}`,
        target: `<= ${TARGETS.concurrentP95Ms} ms, lag <= ${TARGETS.keepUpLagMs} ms`, pass: l.p95 <= TARGETS.concurrentP95Ms && l.keepsUp,
      })),
      { name: 'the same, epFlag 0.1 s after the speech (no trailing silence)', value: `p50 ${Math.round(percentile(cutMs, 50))} ms, p95 ${Math.round(percentile(cutMs, 95))} ms`, target: 'report', pass: true },
      { name: 'largest number of streams that keeps up', value: String(largest), target: 'report', pass: true },
      { name: `CER ${a.lang} streamed finals vs /recog/v1/stt`, value: `${pct(streamCer.rate)} vs ${pct(shortCer.rate)} (${cerDiff >= 0 ? '+' : ''}${cerDiff.toFixed(1)} pt)`, target: `<= +${TARGETS.cerPoints} pt`, pass: cerDiff <= TARGETS.cerPoints },
    ];
    const out = {
      kind: 'sori-bench-stream', date: new Date().toISOString(), machine: machineInfo(), normalisation: NORMALISATION_NOTE,
      clips: clips.length, single: { p50, p95, partialsPerClip: single.reduce((s, x) => s + x.run.partials, 0) / single.length },
      cutAfterSpeech: { p50: percentile(cutMs, 50), p95: percentile(cutMs, 95), trailingSilenceP50S: percentile(cutS, 50) }, levels, checks,
    };
    const file = writeLatest('bench-stream', out);
    if (a.json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    console.log(formatTable(['chunk', 'streams', 'final p50 ms', 'final p95 ms', 'max lag ms', 'max after last word ms', 'keeps up', 'errors'], [
      ['100 ms', 1, Math.round(p50), Math.round(p95), '', '', '', single.filter((s) => s.run.error !== null).length],
      ...levels.map((l) => [`${l.chunkMs} ms`, l.streams, Math.round(l.p50), Math.round(l.p95), Math.round(l.maxLag), Math.round(l.maxSpeechLag), l.keepsUp ? 'yes' : 'no', l.errors]),
    ]));
    for (const l of levels) for (const e of l.errorSamples) console.log(`error (${l.chunkMs} ms, ${l.streams} streams): ${e}`);
    console.log();
    console.log(formatTable(['check', 'value', 'target', ''], checks.map((c) => [c.name, c.value, c.target, c.pass ? 'PASS' : 'FAIL'])));
    console.log(`\n${NORMALISATION_NOTE}\nwritten: ${file}`);
  } finally {
    await server.stop();
    rmSync(configDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
