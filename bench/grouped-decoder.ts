/**
 * SORI_MODELS_DIR=../shared/models node --import tsx bench/grouped-decoder.ts
 *     [--groups 1,2,4,8] [--rows 1,2] [--steps 30] [--warmup 3] [--past 20] [--threads 2]
 *
 * Does decoding several requests in one run pay (src/speech/whisper/grouped-decoder.ts)? For G
 * requests ("groups") of n rows each (n = beams), time per decoder step of
 *   separate  G runs of the unmodified decoder, one per request (what the worker does today);
 *   grouped   one run of the grouped decoder via GroupedRunner.stepGroups, including the copy
 *             that joins the requests' self caches and the split (views) after;
 *   kept      one run on a joined cache kept from step to step (no join copy): the floor for a
 *             caller that keeps a fixed set of requests batched;
 *   row-q     as grouped, on the decoder whose activations are quantised per row
 *             (src/speech/whisper/row-quantization.ts: batching changes no row's numbers);
 *   padded    as row-q, on the decoder that also takes positions and a padding mask
 *             (self-padding.ts: requests at different lengths may share a run), fed them.
 * Median of --steps steps after --warmup, the methods interleaved step by step so load
 * drift hits all, each step in a rotated order; each starts from the same caches (prompt +
 * --past greedy tokens) of distinct real clips. Tokens are each method's own argmax (counted in
 * its time, the same work for all). Also the one-off costs of stacking the groups' cross K/V
 * (GroupedRunner.stackCross) and of one request joining a CrossSlots set. Prints the load average
 * before and after: the machine's 2 cores are shared, figures are only comparable within a run.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { decodeFile } from '../src/media/decode.js';
import { LogMelExtractor, WINDOW_FRAMES } from '../src/speech/whisper/features.js';
import { loadWhisperModel } from '../src/speech/whisper/model.js';
import { DecoderRunner, type KvCache } from '../src/speech/whisper/decoder-runner.js';
import { loadGroupedDecoder } from '../src/speech/whisper/grouped-decoder.js';
import { GroupedRunner } from '../src/speech/whisper/grouped-runner.js';
import { CrossSlots } from '../src/speech/whisper/cross-slots.js';
import { loadManifest, manifestPath, selectClips } from './lib/manifest.js';
import { modelsDir, testdataDir } from './lib/paths.js';
import { formatTable } from './lib/table.js';
import { log } from './lib/progress.js';
import { argmaxRows } from './lib/logits.js';
import { helpOnRequest } from './lib/help.js';
import { median } from './lib/stats.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    groups: { type: 'string', default: '1,2,4,8' },
    rows: { type: 'string', default: '1,2' },
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    past: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    model: { type: 'string', default: 'whisper-base' },
  },
});
const groupCounts = a.groups.split(',').map(Number);
const rowCounts = a.rows.split(',').map(Number);
const STEPS = Number(a.steps);
const WARMUP = Number(a.warmup);
const THREADS = Number(a.threads);
const MODEL_DIR = join(modelsDir(), a.model);

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  log(`load average before: ${load()}`);
  const model = await loadWhisperModel(MODEL_DIR, a.model, THREADS);
  const { session } = await loadGroupedDecoder(MODEL_DIR, THREADS);
  const { session: rowSession } = await loadGroupedDecoder(MODEL_DIR, THREADS, { rowQuantization: true });
  const { session: padSession } = await loadGroupedDecoder(MODEL_DIR, THREADS, { rowQuantization: true, padding: true });
  const alone = new DecoderRunner(model);
  const grouped = new GroupedRunner(model, session);
  const rowGrouped = new GroupedRunner(model, rowSession);
  const padGrouped = new GroupedRunner(model, padSession);
  const mel = new LogMelExtractor(model.nMels);

  // Distinct requests: quick-set clips, languages in turn.
  const maxG = Math.max(...groupCounts);
  const clips = selectClips(loadManifest(manifestPath(testdataDir())), testdataDir(), { tag: 'quick', maxS: 30, limit: maxG });
  if (clips.length < maxG) throw new Error(`only ${clips.length} clips for ${maxG} groups`);
  const base: KvCache[] = [];
  const baseTok: number[] = [];
  for (const clip of clips) {
    const { pcm } = await decodeFile(clip.path);
    const enc = await model.encoder.run({ input_features: new ort.Tensor('float32', mel.extract(pcm), [1, model.nMels, WINDOW_FRAMES]) });
    const lang = model.langToId.get(clip.lang) ?? model.langToId.get('en') ?? 0;
    const p = await alone.prefill([model.tokens.sot, lang, model.tokens.transcribe, model.tokens.noTimestamps], enc.last_hidden_state);
    let cache = p.cache;
    let tok = argmaxRows(p.logits.subarray(p.logits.length - model.vocabSize), 1);
    // Past the prompt, so self-attention has a typical length to read.
    for (let i = 0; i < Number(a.past); i++) {
      const s = await alone.step(tok, cache);
      cache = s.cache;
      tok = argmaxRows(s.logits, 1);
    }
    base.push(cache);
    baseTok.push(tok[0]);
  }
  log(`${clips.length} clips prefilled (${clips.map((c) => c.lang).join(' ')}), self cache ${base[0].length} tokens`);

  const rows: (string | number)[][] = [];
  for (const n of rowCounts) {
    for (const G of groupCounts) {
      const caches0 = base.slice(0, G).map((c) => (n === 1 ? c : alone.tile(c, n)));
      const t0 = performance.now();
      const stack = GroupedRunner.stackCross(caches0.map((c) => c.cross));
      const stackMs = performance.now() - t0;
      const slots = new CrossSlots<number>(G);
      caches0.slice(0, -1).forEach((c, g) => slots.add(g, c.cross));
      const t1 = performance.now();
      slots.add(G - 1, caches0[G - 1].cross);
      const joinMs = performance.now() - t1;
      const start = (): { caches: KvCache[]; tokens: number[][] } => ({ caches: caches0, tokens: caches0.map((_, g) => new Array<number>(n).fill(baseTok[g])) });
      const sep = start();
      const grp = start();
      const rowq = start();
      const pad = start();
      let kept = GroupedRunner.join(caches0, stack);
      let keptTok = grp.tokens.flat();
      type Method = 'separate' | 'grouped' | 'kept' | 'rowq' | 'padded';
      const times: Record<Method, number[]> = { separate: [], grouped: [], kept: [], rowq: [], padded: [] };
      const run: Record<Method, () => Promise<void>> = {
        separate: async () => {
          const outs: { logits: Float32Array; cache: KvCache }[] = [];
          for (let g = 0; g < G; g++) outs.push(await alone.step(sep.tokens[g], sep.caches[g]));
          sep.caches = outs.map((o) => o.cache);
          sep.tokens = outs.map((o) => argmaxRows(o.logits, n));
        },
        grouped: async () => {
          const out = await grouped.stepGroups(grp.tokens.flat(), grp.caches, stack);
          grp.caches = out.caches;
          grp.tokens = out.logits.map((l) => argmaxRows(l, n));
        },
        kept: async () => {
          const k = await grouped.runner.step(keptTok, kept);
          kept = k.cache;
          keptTok = argmaxRows(k.logits, G * n);
        },
        rowq: async () => {
          const r = await rowGrouped.stepGroups(rowq.tokens.flat(), rowq.caches, stack);
          rowq.caches = r.caches;
          rowq.tokens = r.logits.map((l) => argmaxRows(l, n));
        },
        padded: async () => {
          const r = await padGrouped.stepGroups(pad.tokens.flat(), pad.caches, stack);
          pad.caches = r.caches;
          pad.tokens = r.logits.map((l) => argmaxRows(l, n));
        },
      };
      const order: Method[] = ['separate', 'grouped', 'kept', 'rowq', 'padded'];
      for (let s = 0; s < WARMUP + STEPS; s++) {
        // A different method first each step: none always runs on the caches another just left.
        for (let m = 0; m < order.length; m++) {
          const method = order[(s + m) % order.length];
          const t = performance.now();
          await run[method]();
          if (s >= WARMUP) times[method].push(performance.now() - t);
        }
      }
      const ms = {
        separate: median(times.separate), grouped: median(times.grouped), kept: median(times.kept),
        rowq: median(times.rowq), padded: median(times.padded),
      };
      rows.push([
        G, n, ms.separate.toFixed(1), ms.grouped.toFixed(1), ms.kept.toFixed(1), ms.rowq.toFixed(1), ms.padded.toFixed(1),
        (ms.separate / ms.grouped).toFixed(2), (ms.separate / ms.rowq).toFixed(2), stackMs.toFixed(0), joinMs.toFixed(0),
      ]);
      log(`G=${G} n=${n}: separate ${ms.separate.toFixed(1)} ms, grouped ${ms.grouped.toFixed(1)} ms, kept ${ms.kept.toFixed(1)} ms, row-q ${ms.rowq.toFixed(1)} ms, padded ${ms.padded.toFixed(1)} ms (load ${load()})`);
    }
  }
  console.log(`\nwhisper ${a.model}, ${THREADS} threads, median of ${STEPS} steps after ${WARMUP}, self cache ${base[0].length}..${base[0].length + WARMUP + STEPS} tokens`);
  console.log(formatTable(
    ['groups', 'rows/group', 'separate ms', 'grouped ms', 'kept ms', 'row-q ms', 'padded ms', 'speed-up grouped', 'speed-up row-q', 'stack cross ms', 'one joins slots ms'],
    rows,
  ));
  console.log(`load average after: ${load()}`);
  await Promise.all([model.encoder.release(), model.decoder.release(), session.release(), rowSession.release(), padSession.release()]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
