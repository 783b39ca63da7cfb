import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { decodeFile } from '../../../src/media/decode.js';
import { LogMelExtractor, WINDOW_FRAMES } from '../../../src/speech/whisper/features.js';
import { loadWhisperModel, type WhisperModel } from '../../../src/speech/whisper/model.js';
import { DecoderRunner, type KvCache } from '../../../src/speech/whisper/decoder-runner.js';
import { loadGroupedDecoder } from '../../../src/speech/whisper/grouped-decoder.js';
import { GroupedRunner } from '../../../src/speech/whisper/grouped-runner.js';
import { CrossSlots } from '../../../src/speech/whisper/cross-slots.js';
import { modelsDir, testdataDir } from '../../helpers/media-fixtures.js';
import { argmaxRows } from '../../../bench/lib/logits.js';

const MODEL_DIR = join(modelsDir(), 'whisper-base');
/** Different languages and lengths (11, 7.9, 10 and 4.2 s). */
const CLIPS: [string, string][] = [
  ['en/jfk.flac', 'en'],
  ['ko/etts_ada00002.flac', 'ko'],
  ['ja/cv_ja_38852485.flac', 'ja'],
  ['zh/firered_BAC009S0764W0121.flac', 'zh'],
];
const STEPS = 30;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}


/** The second best token of a single row. */
function secondBest(logits: Float32Array): number {
  const first = argmaxRows(logits, 1)[0];
  let best = first === 0 ? 1 : 0;
  for (let i = 0; i < logits.length; i++) if (i !== first && logits[i] > logits[best]) best = i;
  return best;
}

/** One run at a time, as a worker would (concurrent runs would only share the same 2 cores). */
async function inTurn<T, R>(xs: T[], f: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < xs.length; i++) out.push(await f(xs[i], i));
  return out;
}

async function prefillClips(model: WhisperModel, runner: DecoderRunner): Promise<{ caches: KvCache[]; first: Float32Array[] }> {
  const mel = new LogMelExtractor(model.nMels);
  const caches: KvCache[] = [];
  const first: Float32Array[] = [];
  for (const [file, lang] of CLIPS) {
    const { pcm } = await decodeFile(join(testdataDir(), file));
    const enc = await model.encoder.run({ input_features: new ort.Tensor('float32', mel.extract(pcm), [1, model.nMels, WINDOW_FRAMES]) });
    const langId = model.langToId.get(lang);
    assert.ok(langId !== undefined, lang);
    const prompt = [model.tokens.sot, langId, model.tokens.transcribe, model.tokens.noTimestamps];
    const p = await runner.prefill(prompt, enc.last_hidden_state);
    const v = p.logits.length / prompt.length;
    first.push(p.logits.slice((prompt.length - 1) * v));
    caches.push(p.cache);
  }
  return { caches, first };
}

describe('grouped decoder', () => {
  let model: WhisperModel;
  let alone: DecoderRunner;
  let caches: KvCache[];
  let first: Float32Array[];
  const sessions: ort.InferenceSession[] = [];

  before(async () => {
    model = await loadWhisperModel(MODEL_DIR, 'whisper-base', 2);
    alone = new DecoderRunner(model);
    ({ caches, first } = await prefillClips(model, alone));
  });

  after(async () => {
    await model.encoder.release();
    await model.decoder.release();
    for (const s of sessions) await s.release();
  });

  test('one run for several requests matches running each alone (greedy, 30 steps; beams of 2); G = 1 matches the original', async (t) => {
    const { session, info } = await loadGroupedDecoder(MODEL_DIR, 2);
    sessions.push(session);
    assert.equal(info.layers.length, model.layers);
    assert.equal(info.rowQuantization, undefined);
    const grouped = new GroupedRunner(model, session);
    const G = caches.length;
    const eot = model.tokens.eot;

    // --- G = 1: the rewritten graph against the original, same cache (n = 1 and n = 2).
    {
      const tok = argmaxRows(first[0], 1);
      const a = await alone.step(tok, caches[0]);
      const b = await grouped.runner.step(tok, caches[0]);
      const d1 = maxAbsDiff(a.logits, b.logits);
      const two = alone.tile(caches[0], 2);
      const tok2 = [tok[0], secondBest(first[0])];
      const d2 = maxAbsDiff((await alone.step(tok2, two)).logits, (await grouped.runner.step(tok2, two)).logits);
      t.diagnostic(`G=1: max |logit diff| n=1 ${d1}, n=2 ${d2}`);
      // The same per-row MatMuls as the original's broadcast: the same numbers.
      assert.equal(d1, 0, 'G=1 n=1');
      assert.equal(d2, 0, 'G=1 n=2');
    }

    // Several tokens per row (draft checks, word alignment): the same numbers and maps too.
    {
      const toks = [argmaxRows(first[1], 1)[0], 220, 11];
      const a = await alone.extend(toks, caches[1]);
      const b = await grouped.runner.extend(toks, caches[1]);
      assert.equal(maxAbsDiff(a.logits, b.logits), 0, 'extend');
      const ids = [model.tokens.sot, ...toks];
      const x = await alone.attend(ids, caches[1].cross, [2, 5]);
      const y = await grouped.runner.attend(ids, caches[1].cross, [2, 5]);
      assert.equal(maxAbsDiff(x.logits, y.logits), 0, 'attend logits');
      x.crossAttentions.forEach((m, i) => {
        assert.deepEqual(y.crossAttentions[i].dims, m.dims);
        assert.equal(maxAbsDiff(m.data as Float32Array, y.crossAttentions[i].data as Float32Array), 0, 'attend maps');
      });
    }

    const stack = GroupedRunner.stackCross(caches.map((c) => c.cross));

    // --- The rewrite is exact: the unmodified graph fed the same G rows, each with its own
    // cross K/V (batch G = rows, no broadcast: what tiling would cost), computes the same numbers.
    {
      const tok = first.map((l) => argmaxRows(l, 1)[0]);
      const joined = GroupedRunner.join(caches, stack);
      const d = maxAbsDiff((await alone.step(tok, joined)).logits, (await grouped.runner.step(tok, joined)).logits);
      t.diagnostic(`G=${G} n=1: grouped graph vs original graph with per-row cross K/V: max |logit diff| ${d}`);
      assert.equal(d, 0);
      const n = 2;
      const tiled = caches.map((c) => alone.tile(c, n));
      const rows = first.flatMap((l) => [argmaxRows(l, 1)[0], secondBest(l)]);
      const joined2 = GroupedRunner.join(tiled, stack);
      const perRow = { ...joined2, cross: GroupedRunner.stackCross(tiled.flatMap((c) => [c.cross, c.cross])) };
      const d2 = maxAbsDiff((await alone.step(rows, perRow)).logits, (await grouped.runner.step(rows, joined2)).logits);
      t.diagnostic(`G=${G} n=${n}: the same, max |logit diff| ${d2}`);
      assert.equal(d2, 0);
    }

    // --- Today's beams for scale: a row batched with another beam of the same request vs alone.
    {
      let base = 0;
      for (let g = 0; g < G; g++) {
        const tok = argmaxRows(first[g], 1)[0];
        const a = await alone.step([tok], caches[g]);
        const b = await alone.step([tok, secondBest(first[g])], alone.tile(caches[g], 2));
        base = Math.max(base, maxAbsDiff(a.logits, b.logits.subarray(0, a.logits.length)));
      }
      t.diagnostic(`baseline, beams of one request (n=2, original graph): row 0 vs alone, max |logit diff| ${base.toFixed(4)}`);
    }

    // --- G groups, n = 1: independent greedy decodes, alone vs grouped.
    let ref = caches;
    let grp = caches;
    let refTok = first.map((l) => argmaxRows(l, 1)[0]);
    let grpTok = [...refTok];
    const refSeq: number[][] = refTok.map((x) => [x]);
    const grpSeq: number[][] = grpTok.map((x) => [x]);
    let worst = 0;
    const worstPerGroup = new Array<number>(G).fill(0);
    const divergedAt = new Array<number>(G).fill(-1);
    const margins = new Array<number>(G).fill(0);
    for (let s = 0; s < STEPS; s++) {
      const outs = await inTurn(ref, (c, g) => alone.step([refTok[g]], c));
      const gout = await grouped.stepGroups(grpTok, grp, stack);
      ref = outs.map((o) => o.cache);
      grp = gout.caches;
      for (let g = 0; g < G; g++) {
        // Only comparable while both decodes fed the same tokens, and up to <|endoftext|>.
        if (refSeq[g].join() === grpSeq[g].join() && !refSeq[g].includes(eot)) {
          const d = maxAbsDiff(outs[g].logits, gout.logits[g]);
          worstPerGroup[g] = Math.max(worstPerGroup[g], d);
          worst = Math.max(worst, d);
        }
      }
      refTok = outs.map((o) => argmaxRows(o.logits, 1)[0]);
      grpTok = gout.logits.map((l) => argmaxRows(l, 1)[0]);
      for (let g = 0; g < G; g++) {
        if (divergedAt[g] < 0 && refTok[g] !== grpTok[g] && refSeq[g].join() === grpSeq[g].join() && !refSeq[g].includes(eot)) {
          divergedAt[g] = s + 1;
          margins[g] = outs[g].logits[refTok[g]] - outs[g].logits[grpTok[g]];
        }
      }
      refTok.forEach((x, g) => refSeq[g].push(x));
      grpTok.forEach((x, g) => grpSeq[g].push(x));
    }
    const untilEot = (seq: number[]): number[] => (seq.includes(eot) ? seq.slice(0, seq.indexOf(eot) + 1) : seq);
    const text = (seq: number[]): string => model.tokenizer.decode(untilEot(seq).filter((x) => x < eot), { skip_special_tokens: true });
    let identical = 0;
    CLIPS.forEach(([file], g) => {
      const same = untilEot(grpSeq[g]).join() === untilEot(refSeq[g]).join();
      if (same) identical++;
      t.diagnostic(`n=1 ${file}: max |logit diff| ${worstPerGroup[g].toFixed(4)} (before <|endoftext|>); greedy tokens ` +
        (same ? `identical: "${text(grpSeq[g])}"` : `differ at token ${divergedAt[g]} (alone's top-2 margin there ${margins[g].toFixed(4)}):` +
          ` alone "${text(refSeq[g])}" / grouped "${text(grpSeq[g])}"`));
      // Where the paths part, it must be a near tie that a shift of this size can flip.
      if (!same) assert.ok(margins[g] <= worst, `${file}: diverged at a margin of ${margins[g]} > max diff ${worst}`);
    });
    t.diagnostic(`greedy transcripts identical for ${identical}/${G} groups`);
    assert.ok(identical >= G / 2, `${identical}/${G} identical`);
    // Activations are quantised per tensor (DynamicQuantizeLinear): other groups' rows change the
    // scales, so logits move by about as much as they do between beams of one request today
    // (baseline above); a layout error (a row attending to another group's audio) moves them by tens.
    assert.ok(worst < 4, `n=1 max |logit diff| ${worst}`);

    // The split caches are views into the grouped output (non-zero byte offsets); the runtime
    // must read them as such when a group goes on alone.
    {
      const g = G - 1;
      const view = grp[g];
      assert.ok((view.self[0].data as Float32Array).byteOffset > 0);
      const copy: KvCache = { ...view, self: view.self.map((x) => new ort.Tensor('float32', new Float32Array(x.data as Float32Array), x.dims)) };
      const a = await alone.step([grpTok[g]], view);
      const b = await alone.step([grpTok[g]], copy);
      assert.equal(maxAbsDiff(a.logits, b.logits), 0);
    }

    // --- G groups, n = 2 (two beams each: greedy and the runner-up first token), teacher-forced.
    {
      const n = 2;
      let refC = caches.map((c) => alone.tile(c, n));
      let grpC = refC;
      let tok = first.map((l) => [argmaxRows(l, 1)[0], secondBest(l)]);
      let worst2 = 0;
      let agree = 0;
      let total = 0;
      for (let s = 0; s < 10; s++) {
        const outs = await inTurn(refC, (c, g) => alone.step(tok[g], c));
        const gout = await grouped.stepGroups(tok.flat(), grpC, stack);
        for (let g = 0; g < G; g++) {
          worst2 = Math.max(worst2, maxAbsDiff(outs[g].logits, gout.logits[g]));
          const ra = argmaxRows(outs[g].logits, n);
          const ga = argmaxRows(gout.logits[g], n);
          ra.forEach((x, j) => { total++; if (x === ga[j]) agree++; });
        }
        refC = outs.map((o) => o.cache);
        grpC = gout.caches;
        tok = outs.map((o) => argmaxRows(o.logits, n));
      }
      t.diagnostic(`n=2, 10 steps teacher-forced: max |logit diff| ${worst2.toFixed(4)}; argmax agrees ${agree}/${total}`);
      assert.ok(worst2 < 4, `n=2 max |logit diff| ${worst2}`);
      assert.ok(agree >= 0.9 * total, `argmax agrees ${agree}/${total}`);
    }

    // Unequal self-cache lengths are refused, not decoded at wrong positions.
    assert.throws(() => GroupedRunner.join([caches[0], ref[1]], GroupedRunner.stackCross([caches[0].cross, caches[1].cross])), /tokens/);
  });

  test('with per-row quantisation every group gets exactly what it gets alone from the original model', async (t) => {
    const { session, info } = await loadGroupedDecoder(MODEL_DIR, 2, { rowQuantization: true });
    sessions.push(session);
    assert.deepEqual(info.rowQuantization, { quantizers: 37, matmuls: 49 }); // whisper base: 6 layers, + proj_out
    const grouped = new GroupedRunner(model, session);
    const G = caches.length;
    // Slots rather than one stack: 2 allocated, so adding 4 grows them once.
    const slots = new CrossSlots<number>(2);
    caches.forEach((c, g) => slots.add(g, c.cross));
    const stack = slots.tensors();

    // G groups of one row, 30 greedy steps: the same logits as each alone on the original.
    let ref = caches;
    let grp = caches;
    let tok = first.map((l) => argmaxRows(l, 1)[0]);
    let worst = 0;
    for (let s = 0; s < STEPS; s++) {
      const outs = await inTurn(ref, (c, g) => alone.step([tok[g]], c));
      const gout = await grouped.stepGroups(tok, grp, stack);
      for (let g = 0; g < G; g++) worst = Math.max(worst, maxAbsDiff(outs[g].logits, gout.logits[g]));
      const gTok = gout.logits.map((l) => argmaxRows(l, 1)[0]);
      tok = outs.map((o) => argmaxRows(o.logits, 1)[0]);
      assert.deepEqual(gTok, tok, `step ${s}`);
      ref = outs.map((o) => o.cache);
      grp = gout.caches;
    }
    // A request leaves: the last slot moves into its place; the others go on unchanged.
    slots.delete(0);
    assert.deepEqual(slots.keys, [3, 1, 2]);
    {
      const order = slots.keys;
      const outs = await inTurn([...order], (g) => alone.step([tok[g]], ref[g]));
      const gout = await grouped.stepGroups(order.map((g) => tok[g]), order.map((g) => grp[g]), slots.tensors());
      order.forEach((g, i) => { worst = Math.max(worst, maxAbsDiff(outs[i].logits, gout.logits[i])); });
    }
    t.diagnostic(`G=${G} n=1, ${STEPS} greedy steps (+1 after one left): max |logit diff| vs each alone on the original model ${worst}`);
    // Every op computes a row as it would alone, so the numbers are the same bits.
    assert.equal(worst, 0);

    // Beams: each row of each group against that row alone (batch 1) on the original model.
    const n = 2;
    const tiled = caches.map((c) => alone.tile(c, n));
    const rows = first.map((l) => [argmaxRows(l, 1)[0], secondBest(l)]);
    // (`stack` went stale when a request left the slots.)
    const gout = await grouped.stepGroups(rows.flat(), tiled, GroupedRunner.stackCross(caches.map((c) => c.cross)));
    let worstBeam = 0;
    for (let g = 0; g < G; g++) {
      for (let j = 0; j < n; j++) {
        const a = await alone.step([rows[g][j]], caches[g]);
        const v = a.logits.length;
        worstBeam = Math.max(worstBeam, maxAbsDiff(a.logits, gout.logits[g].subarray(j * v, (j + 1) * v)));
      }
    }
    t.diagnostic(`G=${G} n=${n}: max |logit diff| of a row vs that row alone on the original model ${worstBeam}`);
    // Beams no longer see each other either: every op computes a row as it would alone.
    assert.equal(worstBeam, 0);
  });

  test('with padding, requests at different lengths share a run, each as alone up to float order (per-row quantisation)', async (t) => {
    const { session, info } = await loadGroupedDecoder(MODEL_DIR, 2, { rowQuantization: true, padding: true });
    sessions.push(session);
    assert.deepEqual(info.paddingInputs, ['sori_position_ids', 'sori_self_mask']);
    const grouped = new GroupedRunner(model, session);
    assert.ok(grouped.padded);
    const G = caches.length;
    const stack = GroupedRunner.stackCross(caches.map((c) => c.cross));

    // Group g first decodes 3·g tokens alone: the caches hold 4, 7, 10 and 13 tokens.
    let ref: KvCache[] = [];
    let tok: number[] = [];
    for (let g = 0; g < G; g++) {
      let c = caches[g];
      let x = argmaxRows(first[g], 1)[0];
      for (let s = 0; s < 3 * g; s++) {
        const o = await alone.step([x], c);
        c = o.cache;
        x = argmaxRows(o.logits, 1)[0];
      }
      ref.push(c);
      tok.push(x);
    }
    assert.deepEqual(ref.map((c) => c.length), [4, 7, 10, 13]);
    let grp = ref;
    let worst = 0;
    for (let s = 0; s < 10; s++) {
      const outs = await inTurn(ref, (c, g) => alone.step([tok[g]], c));
      const gout = await grouped.stepGroups(tok, grp, stack);
      for (let g = 0; g < G; g++) worst = Math.max(worst, maxAbsDiff(outs[g].logits, gout.logits[g]));
      tok = outs.map((o) => argmaxRows(o.logits, 1)[0]);
      assert.deepEqual(gout.logits.map((l) => argmaxRows(l, 1)[0]), tok, `step ${s}`);
      ref = outs.map((o) => o.cache);
      grp = gout.caches;
      assert.deepEqual(grp.map((c) => c.length), ref.map((c) => c.length));
    }
    t.diagnostic(`G=${G} n=1 at lengths 4/7/10/13, 10 greedy steps: max |logit diff| vs each alone on the original model ${worst}`);
    // Not the same bits: self-attention sums over the padded length, in another float order
    // (the padding itself weighs exactly 0). ~1e-5 here; tokens identical, asserted above.
    assert.ok(worst < 1e-3, `${worst}`);

    // Beams at different lengths: every row as that row alone.
    const n = 2;
    const rows = ref.map((c, g) => [tok[g], (tok[g] + 1) % model.vocabSize]);
    const gout = await grouped.stepGroups(rows.flat(), ref.map((c) => alone.tile(c, n)), stack);
    let worstBeam = 0;
    for (let g = 0; g < G; g++) {
      for (let j = 0; j < n; j++) {
        const a = await alone.step([rows[g][j]], ref[g]);
        const v = a.logits.length;
        worstBeam = Math.max(worstBeam, maxAbsDiff(a.logits, gout.logits[g].subarray(j * v, (j + 1) * v)));
      }
    }
    t.diagnostic(`G=${G} n=${n} at different lengths: max |logit diff| of a row vs that row alone ${worstBeam}`);
    assert.ok(worstBeam < 1e-3, `${worstBeam}`);
  });
});
