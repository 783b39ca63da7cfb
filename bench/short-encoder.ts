/**
 * SORI_MODELS_DIR=../shared/models npx tsx bench/short-encoder.ts [--parts speed,accuracy]
 *     [--langs ko,en] [--searches 1,2] [--configs full,+0,+0.5,+1,+2,ceil5] [--threads 2]
 *     [--reps 5] [--limit N] [--timestamps] [--verbose]
 *
 * Whisper's encoder on a truncated context (src/speech/whisper/short-encoder.ts, whisper.cpp's
 * audio_ctx) against the full 30 s window:
 *   speed    encoder time per utterance length (context = length + 1 s rounded up to 1 s) vs
 *            the full 30 s encoder, on --threads and on 1 thread; median of --reps runs, each
 *            short run next to a full run so machine load drifts hit both;
 *   accuracy the quick set's clips (<= 30 s) decoded text-only (<|notimestamps|>, as the
 *            transcriber decodes single windows) at temperature 0, without fallback, per
 *            context policy and search (1 = greedy, 2 = beam 2): corpus CER/WER as
 *            bench/lib/score.ts scores it, clips whose text changed vs full context, and
 *            hallucination signs (looped, compression ratio > 2.4, avg log-prob < -1 i.e. what
 *            would trigger the fallback, hypothesis > 1.3x reference length), with encoder and
 *            decoder milliseconds per clip. --timestamps decodes with timestamp tokens instead,
 *            capped at the context's last position (capTimestamps).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { decodeFile } from '../src/media/decode.js';
import { LogMelExtractor, WINDOW_FRAMES } from '../src/speech/whisper/features.js';
import { loadWhisperModel, ENCODER_FILE, type WhisperModel } from '../src/speech/whisper/model.js';
import { DecoderRunner } from '../src/speech/whisper/decoder-runner.js';
import { LogitRules, beamSearch } from '../src/speech/whisper/search.js';
import { compressionRatio } from '../src/speech/whisper/transcriber.js';
import { capTimestamps, contextFrames, loadShortEncoder, type ContextPolicy, type ShortEncoder } from '../src/speech/whisper/short-encoder.js';
import { loadManifest, manifestPath, selectClips, type Clip } from './lib/manifest.js';
import { modelsDir, testdataDir } from './lib/paths.js';
import { corpusRates, normalise, scoreClip, NORMALISATION_NOTE, type ClipScore } from './lib/score.js';
import { formatTable, pct } from './lib/table.js';
import { log } from './lib/progress.js';
import { helpOnRequest } from './lib/help.js';
import { median } from './lib/stats.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    parts: { type: 'string', default: 'speed,accuracy' },
    langs: { type: 'string', default: 'ko,en' },
    searches: { type: 'string', default: '1,2' },
    configs: { type: 'string', default: 'full,+0,+0.5,+1,+2,ceil5' },
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '5' },
    lengths: { type: 'string', default: '2,5,10,20,30' },
    limit: { type: 'string' },
    model: { type: 'string', default: 'whisper-base' },
    timestamps: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const MODEL_DIR = join(modelsDir(), a.model);
const THREADS = Number(a.threads);
const parts = new Set(a.parts.split(','));

function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

// ---------------------------------------------------------------------------------------------
// Speed

async function speed(): Promise<void> {
  const lengths = a.lengths.split(',').map(Number);
  const reps = Number(a.reps);
  const mel = new LogMelExtractor(80);
  // Speech-like input does not matter for timing; a real clip's mel keeps the values realistic.
  const clip = selectClips(loadManifest(manifestPath(testdataDir())), testdataDir(), { tag: 'quick', lang: 'ko', maxS: 30 })[0];
  const pcm = (await decodeFile(clip.path)).pcm;
  const features = mel.extract(pcm);
  const rows: (string | number)[][] = [];
  for (const threads of [...new Set([THREADS, 1])]) {
    const full = await ort.InferenceSession.create(join(MODEL_DIR, ENCODER_FILE), sessionOptions(threads));
    const short = await loadShortEncoder(MODEL_DIR, threads);
    const fullInput = { input_features: new ort.Tensor('float32', features, [1, 80, WINDOW_FRAMES]) };
    await full.run(fullInput);
    for (const len of lengths) {
      const frames = contextFrames(len * 16000, { marginS: 1, roundS: 1, minS: 0 });
      await short.encode(features, frames); // warm-up: first run of a shape plans its memory
      const tf: number[] = [];
      const ts: number[] = [];
      // A pause before every timed run: ORT's intra-op threads spin for a while after a run, and
      // the two sessions' pools spinning against each other on 2 cores doubled the times seen.
      const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));
      for (let r = 0; r < reps; r++) {
        await settle();
        let t0 = performance.now();
        await full.run(fullInput);
        tf.push(performance.now() - t0);
        await settle();
        t0 = performance.now();
        await short.encode(features, frames);
        ts.push(performance.now() - t0);
      }
      const f = median(tf);
      const s = median(ts);
      rows.push([threads, len, (frames / 100).toFixed(1), frames, f.toFixed(0), s.toFixed(0), (f / s).toFixed(2) + 'x', (f - s).toFixed(0)]);
      log(`speed: threads ${threads}, ${len} s -> ${frames} frames: full ${f.toFixed(0)} ms, short ${s.toFixed(0)} ms`);
    }
    await full.release();
    await short.session.release();
  }
  console.log(`\nEncoder time, whisper base int8, median of ${reps} (context = utterance + 1 s, rounded up to 1 s, max 30 s)`);
  console.log(formatTable(['threads', 'utt s', 'ctx s', 'frames', 'full ms', 'short ms', 'speed-up', 'saved ms'], rows));
}

// ---------------------------------------------------------------------------------------------
// Accuracy

/** `pad`: the short output followed by a silent window's full-encoder output from position N on. */
interface Config { name: string; policy?: ContextPolicy; pad?: boolean }

function parseConfig(full: string): Config {
  if (full === 'full') return { name: full };
  const pad = full.endsWith('p');
  const c = parseConfigBase(pad ? full.slice(0, -1) : full);
  return { ...c, name: full, pad };
}

function parseConfigBase(name: string): Config {
  const ceil = /^ceil(\d+(?:\.\d+)?)$/.exec(name);
  if (ceil) return { name, policy: { marginS: 0, roundS: Number(ceil[1]), minS: 0 } };
  // "+1" = 1 s margin; "+1r2" = 1 s margin then rounded up to 2 s.
  const m = /^\+(\d+(?:\.\d+)?)(?:r(\d+(?:\.\d+)?))?$/.exec(name);
  if (m) return { name, policy: { marginS: Number(m[1]), roundS: m[2] ? Number(m[2]) : 0, minS: 0 } };
  throw new Error(`bad config ${name}`);
}

/** LogitRules that also keep timestamps within the encoded context. */
class CappedRules extends LogitRules {
  positions = Infinity;
  constructor(model: WhisperModel, private readonly tsBegin: number) { super(model); }
  override apply(row: Float32Array, seq: number[], timestamps: boolean): number {
    if (timestamps && Number.isFinite(this.positions)) capTimestamps(row, this.tsBegin, this.positions);
    return super.apply(row, seq, timestamps);
  }
}

interface Outcome {
  text: string;
  score: ClipScore;
  looped: boolean;
  cr: number;
  avgLogprob: number;
  long: boolean;
  encMs: number;
  decMs: number;
}

async function accuracy(): Promise<void> {
  const model = await loadWhisperModel(MODEL_DIR, a.model, THREADS);
  const short: ShortEncoder = await loadShortEncoder(MODEL_DIR, THREADS);
  const runner = new DecoderRunner(model);
  const rules = new CappedRules(model, model.tokens.timestampBegin);
  const mel = new LogMelExtractor(model.nMels);
  const configs = a.configs.split(',').map(parseConfig);
  const searches = a.searches.split(',').map(Number);
  const { sot, transcribe, noTimestamps, eot, timestampBegin } = model.tokens;
  const timestamps = a.timestamps;
  const silence = (await model.encoder.run({
    input_features: new ort.Tensor('float32', mel.extract(new Float32Array(16000)), [1, model.nMels, WINDOW_FRAMES]),
  })).last_hidden_state;
  const padWith = (t: ort.Tensor): ort.Tensor => {
    const d = t.dims[2];
    const out = new Float32Array(silence.data.length);
    out.set(silence.data as Float32Array);
    out.set(t.data as Float32Array, 0);
    return new ort.Tensor('float32', out, [1, silence.dims[1], d]);
  };

  const entries = loadManifest(manifestPath(testdataDir()));
  // results[lang][search][config] = outcomes per clip
  const results = new Map<string, Map<number, Map<string, { clip: Clip; o: Outcome }[]>>>();
  for (const lang of a.langs.split(',')) {
    let clips = selectClips(entries, testdataDir(), { tag: 'quick', lang, maxS: 30 });
    if (a.limit) clips = clips.slice(0, Number(a.limit));
    const perSearch = new Map<number, Map<string, { clip: Clip; o: Outcome }[]>>();
    for (const s of searches) perSearch.set(s, new Map(configs.map((c) => [c.name, []])));
    results.set(lang, perSearch);
    const langId = model.langToId.get(lang);
    if (langId === undefined) throw new Error(`no language ${lang}`);
    const prefix = [sot, langId, transcribe, ...(timestamps ? [] : [noTimestamps])];
    let i = 0;
    for (const clip of clips) {
      i++;
      const pcm = (await decodeFile(clip.path)).pcm.subarray(0, WINDOW_FRAMES * 160);
      const features = mel.extract(pcm);
      for (const cfg of configs) {
        const frames = cfg.policy ? contextFrames(pcm.length, cfg.policy) : WINDOW_FRAMES;
        let t0 = performance.now();
        const encoderOut = cfg.policy
          ? (cfg.pad ? padWith(await short.encode(features, frames)) : await short.encode(features, frames))
          : (await model.encoder.run({ input_features: new ort.Tensor('float32', features, [1, model.nMels, WINDOW_FRAMES]) })).last_hidden_state;
        const encMs = performance.now() - t0;
        rules.positions = cfg.policy && !cfg.pad ? frames / 2 : Infinity;
        for (const beam of searches) {
          t0 = performance.now();
          const pre = await runner.prefill(prefix, encoderOut);
          const V = model.vocabSize;
          const lastRow = pre.logits.slice((prefix.length - 1) * V, prefix.length * V);
          const r = await beamSearch(runner, rules, eot, timestampBegin, lastRow, pre.cache, {
            beamSize: beam, temperature: 0, bestOf: 1, sampleLen: Math.floor(model.maxLength / 2),
            timestamps, rng: Math.random,
          });
          const decMs = performance.now() - t0;
          const text = model.tokenizer.decode(r.tokens.filter((t) => t < eot), { skip_special_tokens: true }).trim();
          const score = scoreClip({ lang, reference: clip.reference, referenceSpelled: clip.referenceSpelled }, text);
          const hypLen = normalise(lang, text).length;
          const o: Outcome = {
            text, score, looped: r.looped, cr: compressionRatio(text), avgLogprob: r.avgLogprob,
            long: hypLen > 1.3 * score.length + 2, encMs: cfg.policy ? encMs : encMs, decMs,
          };
          perSearch.get(beam)!.get(cfg.name)!.push({ clip, o });
          if (a.verbose) log(`${lang} ${i}/${clips.length} ${clip.file} ${cfg.name} b${beam} ${frames}f err ${score.errors}/${score.length} enc ${encMs.toFixed(0)} dec ${decMs.toFixed(0)}: ${text}`);
        }
      }
      if (!a.verbose) log(`${lang} ${i}/${clips.length} ${clip.file}`);
    }
  }

  console.log(`\nAccuracy, quick set, clips <= 30 s, temperature 0 without fallback, ${timestamps ? 'timestamps on (capped to the context)' : 'text only (<|notimestamps|>)'}, ${THREADS} threads`);
  console.log(NORMALISATION_NOTE);
  for (const [lang, perSearch] of results) {
    for (const [beam, perCfg] of perSearch) {
      const fullRuns = perCfg.get('full');
      const rows: (string | number)[][] = [];
      for (const [name, runs] of perCfg) {
        const [rate] = corpusRates(runs.map((r) => ({ lang, score: r.o.score })));
        const fullRate = fullRuns ? corpusRates(fullRuns.map((r) => ({ lang, score: r.o.score })))[0].rate : NaN;
        const changed = fullRuns ? runs.filter((r, k) => r.o.text !== fullRuns[k].o.text).length : 0;
        const worse = fullRuns ? runs.filter((r, k) => r.o.score.errors > fullRuns[k].o.score.errors).length : 0;
        const better = fullRuns ? runs.filter((r, k) => r.o.score.errors < fullRuns[k].o.score.errors).length : 0;
        const n = runs.length;
        rows.push([
          name, rate.errors + '/' + rate.length, pct(rate.rate, 2),
          fullRuns ? ((rate.rate - fullRate) * 100 >= 0 ? '+' : '') + ((rate.rate - fullRate) * 100).toFixed(2) : '-',
          `${changed} (${better}+/${worse}-)`,
          runs.filter((r) => r.o.looped).length, runs.filter((r) => r.o.cr > 2.4).length,
          runs.filter((r) => r.o.avgLogprob < -1).length, runs.filter((r) => r.o.long).length,
          (runs.reduce((s, r) => s + r.o.encMs, 0) / n).toFixed(0), (runs.reduce((s, r) => s + r.o.decMs, 0) / n).toFixed(0),
        ]);
      }
      console.log(`\n${lang} (${rows.length ? perCfg.values().next().value!.length : 0} clips), ${beam === 1 ? 'greedy' : `beam ${beam}`}`);
      console.log(formatTable([
        'context', 'errors', lang === 'en' ? 'WER' : 'CER', 'Δ pts', 'changed (better/worse)',
        'looped', 'cr>2.4', 'lp<-1', 'long hyp', 'enc ms', 'dec ms',
      ], rows));
    }
  }
  if (a.verbose) {
    // The clips whose text differs from full context, for reading.
    for (const [lang, perSearch] of results) {
      for (const [beam, perCfg] of perSearch) {
        const fullRuns = perCfg.get('full');
        if (!fullRuns) continue;
        for (const [name, runs] of perCfg) {
          if (name === 'full') continue;
          runs.forEach((r, k) => {
            if (r.o.text === fullRuns[k].o.text) return;
            console.log(`\n[${lang} b${beam} ${name}] ${r.clip.file} errors ${fullRuns[k].o.score.errors} -> ${r.o.score.errors}\n  full: ${fullRuns[k].o.text}\n  ${name}: ${r.o.text}`);
          });
        }
      }
    }
  }
}

if (parts.has('speed')) await speed();
if (parts.has('accuracy')) await accuracy();
