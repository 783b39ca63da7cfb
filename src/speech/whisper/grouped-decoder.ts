/**
 * Whisper's merged decoder rewritten so one run decodes several requests ("groups"), each with
 * its own cross-attention K/V, the way whisper.cpp batches sequences of different audio.
 *
 * The Hugging Face optimum export computes cross-attention in the cached branch
 * (`use_cache_branch` = true, the If node's `then_branch`) per layer l as
 *
 *   Q  = Transpose(Reshape(Mul(q_proj(x), 0.125), [B, L, -1, 64]), [0,2,1,3])   [B, 8, L, 64]
 *   Kt = Transpose(past_key_values.l.encoder.key, [0,1,3,2])                   [Bk, 8, 64, T]
 *   P  = Softmax(Mul(MatMul(Q, Kt), 1.0), axis=-1)          = cross_attentions.l  [B, 8, L, T]
 *   O  = MatMul(P, past_key_values.l.encoder.value)                              [B, 8, L, 64]
 *   ...Transpose(O, [0,2,1,3]) -> Reshape [B, L, 512] -> out_proj
 *
 * with B rows of input_ids. The MatMuls broadcast Bk = 1 over B (how beams share one request's
 * K/V), but Bk = G > 1 with B = G·n does not broadcast. This module gives the MatMuls a group
 * axis so that they broadcast within each group, and changes nothing else:
 *
 *   Kt = Transpose(Unsqueeze(key, 1), [0,1,2,4,3])                               [G, 1, 8, 64, T]
 *   S  = Reshape(MatMul(Reshape(Q, [G, -1, 8, L, 64]), Kt), [-1, 8, L, T])         [B, 8, L, T]
 *   P  = Softmax(Mul(S, 1.0))                                    = cross_attentions.l  [B, 8, L, T]
 *   O  = Reshape(MatMul(Reshape(P, [G, -1, 8, L, T]), Unsqueeze(value, 1)), Shape(Q))  [B, 8, L, 64]
 *
 * Every Reshape only relabels dims (no copy); Unsqueeze before the Transpose keeps ORT's
 * Transpose+MatMul fusion (FusedMatMul with transB), which an Unsqueeze after it would block
 * (an explicit 18 MB transpose per group and step: 49 instead of 35 ms for 4 requests). G is
 * read from the K/V input's batch dim, every other dim from Q's and K's shapes at run time
 * (computed once for all layers), so the graph takes any G, n and L with rows ordered
 * group-major (row = g·n + j), and `cross_attentions.l` keeps its [B, heads, L, T] layout.
 *
 * Each row still gets the same per-row MatMuls as in the original, so the numbers are the
 * original's: bit-identical for G = 1 (any n), and for G > 1 bit-identical to the original
 * graph fed every row's K/V tiled (what costs ~37 MB a row). An earlier version folded the n
 * rows into one GEMM instead (Q as [G, 8, n·L, 64]): no faster here, and its other summation
 * order, through the int8 rounding of the next layer's input, moved logits by up to 0.3 on
 * random inputs. The prefill branch (`else_branch`, which projects K/V from
 * encoder_hidden_states) is not touched.
 *
 * Batching rows of different requests still moves their logits a little (up to ~1.7 on real
 * clips, a near-tie token flipped now and then): the export quantises activations per tensor,
 * so each row's int8 scale depends on the others, exactly as it already does between the beams
 * of one request. The `rowQuantization` option (row-quantization.ts) removes that.
 *
 * The caller's part: every group's self cache must be equally long. The decoder's positions
 * come from the self cache's length and there is no attention mask, unless the `padding`
 * option (self-padding.ts) adds both as inputs; GroupedRunner then pads shorter caches.
 *
 * The edit works on the protobuf wire format (../onnx-proto.ts) as short-encoder.ts does: only
 * the then_branch's node list and value_info, the If node holding it and the top graph's
 * initializers (a few constants, plus the weights' column sums with rowQuantization) are
 * rebuilt; everything else is copied byte for byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { cachedGraphName, DECODER_FILE, sessionOf, whisperSessionOptions, type ModelCache } from './model.js';
import {
  ATTR_G, ATTR_NAME, DATA_LOCATION_EXTERNAL, GRAPH_INITIALIZER, GRAPH_NODE, GRAPH_VALUE_INFO, MODEL_GRAPH,
  NODE_ATTRIBUTE, TENSOR_DATA_LOCATION, TENSOR_NAME, WT_LEN,
  concat, lenField, parseMessage, str, type WireField,
} from '../onnx-proto.js';
import { rewriteRowQuantization, type RowQuantizationInfo } from './row-quantization.js';
import { POSITION_IDS, SELF_MASK, rewriteSelfPadding } from './self-padding.js';
import {
  int64Initializer, intsAttr, nodeProto, onnxOpset, parseNode, renameNode, type ParsedNode,
} from '../onnx-nodes.js';

const P = 'sori_grouped';
/** 1-D int64 constants the inserted nodes share; initializers of the top graph (outer scope). */
const CONSTS: Record<string, number[]> = {
  [`${P}/0`]: [0], [`${P}/1`]: [1], [`${P}/2`]: [2], [`${P}/3`]: [3], [`${P}/4`]: [4], [`${P}/-1`]: [-1],
};
const c = (v: string): string => `${P}/${v}`;

/** What the rewrite found and changed, per decoder layer. */
export interface GroupedLayerInfo {
  layer: number;
  /** MatMul(Q, K^T) and MatMul(P, V): the nodes now run on [G, n, ...] views. */
  scoresMatMul: string;
  contextMatMul: string;
}

export interface GroupedDecoderGraphInfo {
  ifNode: string;
  layers: GroupedLayerInfo[];
  /** Set when the cached branch's activations are quantised per row (row-quantization.ts). */
  rowQuantization?: RowQuantizationInfo;
  /** The inputs the padding option added (self-padding.ts), else empty. */
  paddingInputs: string[];
  externalData: boolean;
}

export interface GroupedDecoderOptions {
  /**
   * Also quantise the cached branch's activations per row (row-quantization.ts): every row then
   * gets exactly what it would get alone, whatever else is in the batch, at a few ms per step.
   * Off: the export's per-tensor quantisation, under which batched rows move each other's
   * logits slightly (as beams of one request already do today).
   */
  rowQuantization?: boolean;
  /**
   * Also take each row's positions and an extra self-attention mask as inputs (self-padding.ts),
   * so groups whose self caches differ in length can share a run, the shorter ones left-padded
   * (GroupedRunner does that). The session then needs those inputs on every run.
   */
  padding?: boolean;
}

interface LayerMatch {
  layer: number;
  key: string;
  value: string;
  /** Transpose(key, [0,1,3,2]). */
  keyT: ParsedNode;
  scores: ParsedNode;
  context: ParsedNode;
}

/** Finds each layer's cross-attention in the cached branch; throws on anything unexpected. */
function matchLayers(nodes: ParsedNode[]): LayerMatch[] {
  const consumers = new Map<string, ParsedNode[]>();
  for (const n of nodes) {
    for (const i of n.inputs) {
      if (!consumers.has(i)) consumers.set(i, []);
      consumers.get(i)?.push(n);
    }
  }
  const layers = new Set<number>();
  for (const n of nodes) {
    for (const i of n.inputs) {
      const m = /^past_key_values\.(\d+)\.encoder\.key$/.exec(i);
      if (m) layers.add(Number(m[1]));
    }
  }
  if (layers.size === 0) throw new Error('grouped decoder: the cached branch reads no past_key_values.*.encoder.key');
  const only = (what: string, list: ParsedNode[] | undefined): ParsedNode => {
    if (!list || list.length !== 1) throw new Error(`grouped decoder: expected one ${what}, found ${list?.length ?? 0}`);
    return list[0];
  };
  return [...layers].sort((a, b) => a - b).map((layer) => {
    const key = `past_key_values.${layer}.encoder.key`;
    const value = `past_key_values.${layer}.encoder.value`;
    const keyT = only(`consumer of ${key}`, consumers.get(key));
    const perm = intsAttr(keyT, 'perm');
    if (keyT.op !== 'Transpose' || perm?.join(',') !== '0,1,3,2') {
      throw new Error(`grouped decoder: ${key} feeds ${keyT.op} ${keyT.name} (perm ${perm?.join(',')}), not Transpose [0,1,3,2]`);
    }
    const scores = only(`consumer of ${keyT.outputs[0]}`, consumers.get(keyT.outputs[0]));
    if (scores.op !== 'MatMul' || scores.inputs[1] !== keyT.outputs[0]) throw new Error(`grouped decoder: K^T of layer ${layer} feeds ${scores.op} ${scores.name}`);
    const context = only(`consumer of ${value}`, consumers.get(value));
    if (context.op !== 'MatMul' || context.inputs[1] !== value) throw new Error(`grouped decoder: ${value} feeds ${context.op} ${context.name}`);
    return { layer, key, value, keyT, scores, context };
  });
}

/** The cached branch with every layer's cross-attention run on [G, n, ...] views (file comment). */
function rewriteCachedBranch(graph: Uint8Array, opset: number): { graph: Uint8Array; layers: GroupedLayerInfo[] } {
  const fields = parseMessage(graph);
  const nodes: ParsedNode[] = [];
  fields.forEach((f, i) => {
    if (f.no === GRAPH_NODE && f.wt === WT_LEN) nodes.push(parseNode(i, f.payload));
  });
  const matches = matchLayers(nodes);
  const atKeyT = new Map(matches.map((m) => [m.keyT.index, m]));
  const atScores = new Map(matches.map((m) => [m.scores.index, m]));
  const atContext = new Map(matches.map((m) => [m.context.index, m]));
  // K^T is 5-D now; the runtime infers its shape again.
  const reshaped = new Set(matches.map((m) => m.keyT.outputs[0]));
  // Unsqueeze takes its axes as an input from opset 13 on.
  const unsqueeze = (name: string, x: string, out: string): Uint8Array =>
    opset >= 13 ? nodeProto('Unsqueeze', name, [x, c('1')], [out]) : nodeProto('Unsqueeze', name, [x], [out], { ints: { axes: [1] } });

  // Every layer's Q is [B, h, L, d] and every layer's K/V [G, h, T, d]: the target shapes are
  // computed once, at the first scores MatMul (Q exists there; every use comes later).
  const sh = (v: string): string => `${P}/shape/${v}`;
  let shapes = false;
  const parts: Uint8Array[] = [];
  fields.forEach((f, i) => {
    const k = atKeyT.get(i);
    const s = atScores.get(i);
    const x = atContext.get(i);
    if (k) {
      const p = `${P}/l${k.layer}`;
      parts.push(
        unsqueeze(`${p}/k5`, k.key, `${p}/k5`), // [G, 1, h, T, d]
        nodeProto('Transpose', k.keyT.name, [`${p}/k5`], [k.keyT.outputs[0]], { ints: { perm: [0, 1, 2, 4, 3] } }), // [G, 1, h, d, T]
      );
      return;
    }
    if (s) {
      const p = `${P}/l${s.layer}`;
      if (!shapes) {
        shapes = true;
        const q = s.scores.inputs[0];
        parts.push(
          nodeProto('Shape', sh('q'), [q], [sh('q')]), // [B, h, L, d]
          nodeProto('Shape', sh('kv'), [s.key], [sh('kv')]), // [G, h, T, d]
          nodeProto('Slice', sh('groups'), [sh('kv'), c('0'), c('1'), c('0')], [sh('groups')]),
          nodeProto('Slice', sh('h_l_d'), [sh('q'), c('1'), c('4'), c('0')], [sh('h_l_d')]),
          nodeProto('Slice', sh('h_l'), [sh('q'), c('1'), c('3'), c('0')], [sh('h_l')]),
          nodeProto('Slice', sh('t'), [sh('kv'), c('2'), c('3'), c('0')], [sh('t')]),
          nodeProto('Concat', sh('q5'), [sh('groups'), c('-1'), sh('h_l_d')], [sh('q5')], { int: { axis: 0 } }), // [G, n, h, L, d]
          nodeProto('Concat', sh('p5'), [sh('groups'), c('-1'), sh('h_l'), sh('t')], [sh('p5')], { int: { axis: 0 } }), // [G, n, h, L, T]
          nodeProto('Concat', sh('p4'), [c('-1'), sh('h_l'), sh('t')], [sh('p4')], { int: { axis: 0 } }), // [B, h, L, T]
        );
      }
      parts.push(
        nodeProto('Reshape', `${p}/q5`, [s.scores.inputs[0], sh('q5')], [`${p}/q5`]),
        renameNode(s.scores, { input: [0, `${p}/q5`], output: [0, `${p}/s5`] }), // [G, n, h, L, T]
        nodeProto('Reshape', `${p}/s4`, [`${p}/s5`, sh('p4')], [s.scores.outputs[0]]), // [B, h, L, T], as before
      );
      return;
    }
    if (x) {
      const p = `${P}/l${x.layer}`;
      parts.push(
        nodeProto('Reshape', `${p}/p5`, [x.context.inputs[0], sh('p5')], [`${p}/p5`]),
        unsqueeze(`${p}/v5`, x.value, `${p}/v5`), // [G, 1, h, T, d]
        nodeProto(x.context.op, x.context.name, [`${p}/p5`, `${p}/v5`], [`${p}/o5`]), // [G, n, h, L, d]
        nodeProto('Reshape', `${p}/o4`, [`${p}/o5`, sh('q')], [x.context.outputs[0]]), // [B, h, L, d], as before
      );
      return;
    }
    if (f.no === GRAPH_VALUE_INFO) {
      const n = parseMessage(f.payload).find((y) => y.no === 1);
      if (n && reshaped.has(str(n))) return;
    }
    parts.push(f.raw);
  });
  return {
    graph: concat(parts),
    layers: matches.map((m) => ({ layer: m.layer, scoresMatMul: m.scores.name, contextMatMul: m.context.name })),
  };
}

/**
 * The merged decoder with its cached branch regrouped (file comment). Pure function over the
 * model's bytes; throws if the graph is not an optimum merged Whisper decoder or its
 * cross-attention does not look as described.
 */
export function buildGroupedDecoderModel(model: Uint8Array, opts: GroupedDecoderOptions = {}): { bytes: Uint8Array; info: GroupedDecoderGraphInfo } {
  const top = parseMessage(model);
  const graphField = top.find((f) => f.no === MODEL_GRAPH && f.wt === WT_LEN);
  if (!graphField) throw new Error('grouped decoder: model has no graph');
  const graph = parseMessage(graphField.payload);
  const initializers = new Map<string, WireField[]>();
  for (const f of graph) {
    if (f.no !== GRAPH_INITIALIZER || f.wt !== WT_LEN) continue;
    const t = parseMessage(f.payload);
    const name = t.find((x) => x.no === TENSOR_NAME);
    if (name) initializers.set(str(name), t);
  }
  const opset = onnxOpset(top);
  let rowQuantization: RowQuantizationInfo | undefined;
  const extra: Uint8Array[] = [];
  const ifs = graph
    .map((f, i) => (f.no === GRAPH_NODE && f.wt === WT_LEN ? parseNode(i, f.payload) : undefined))
    .filter((n): n is ParsedNode => n !== undefined && n.op === 'If' && n.inputs[0] === 'use_cache_branch');
  if (ifs.length !== 1) throw new Error(`grouped decoder: expected one If on use_cache_branch (a merged decoder), found ${ifs.length}`);
  const ifNode = ifs[0];
  let layers: GroupedLayerInfo[] = [];
  let found = false;
  const newIf = lenField(GRAPH_NODE, concat(ifNode.fields.map((f) => {
    if (f.no !== NODE_ATTRIBUTE || f.wt !== WT_LEN) return f.raw;
    const a = parseMessage(f.payload);
    const n = a.find((x) => x.no === ATTR_NAME);
    if (!n || str(n) !== 'then_branch') return f.raw;
    found = true;
    return lenField(NODE_ATTRIBUTE, concat(a.map((x) => {
      if (x.no !== ATTR_G || x.wt !== WT_LEN) return x.raw;
      const r = rewriteCachedBranch(x.payload, opset);
      layers = r.layers;
      let branch = r.graph;
      if (opts.rowQuantization) {
        const q = rewriteRowQuantization(branch, (name) => initializers.get(name), opset);
        rowQuantization = q.info;
        extra.push(...q.initializers);
        branch = q.graph;
      }
      if (opts.padding) {
        const p = rewriteSelfPadding(branch, (name) => initializers.has(name) && name.includes('embed_positions'));
        extra.push(...p.inputs);
        branch = p.graph;
      }
      return lenField(ATTR_G, branch);
    })));
  })));
  if (!found || layers.length === 0) throw new Error('grouped decoder: the If node has no then_branch graph');

  const externalData = [...initializers.values()].some((t) => t.some((x) => x.no === TENSOR_DATA_LOCATION && x.value === DATA_LOCATION_EXTERNAL));
  const parts = graph.map((f, i) => (i === ifNode.index ? newIf : f.raw));
  for (const [name, values] of Object.entries(CONSTS)) parts.push(int64Initializer(name, values));
  parts.push(...extra);
  const bytes = concat(top.map((f) => (f === graphField ? lenField(MODEL_GRAPH, concat(parts)) : f.raw)));
  const paddingInputs = opts.padding ? [POSITION_IDS, SELF_MASK] : [];
  return { bytes, info: { ifNode: ifNode.name, layers, rowQuantization, paddingInputs, externalData } };
}

/**
 * A session of `onnx/decoder_model_merged_quantized.onnx` of a Whisper model folder, rewritten in
 * memory as above (nothing is written to disk), with model.ts's session options. It serves every
 * call the original does (the prefill branch is unchanged; G = 1 is the original's broadcast).
 */
export async function loadGroupedDecoder(
  modelDir: string, threads: number, opts: GroupedDecoderOptions & { cache?: ModelCache } = {},
): Promise<{ session: ort.InferenceSession; info: GroupedDecoderGraphInfo }> {
  const { bytes, info } = buildGroupedDecoderModel(readFileSync(join(modelDir, DECODER_FILE)), opts);
  if (info.externalData) {
    throw new Error('grouped decoder: decoders with external data are not supported (the rewritten model would lose the data file)');
  }
  const name = cachedGraphName(modelDir, `grouped-decoder${opts.padding === true ? '-padded' : ''}${opts.rowQuantization === true ? '-rowq' : ''}`);
  const session = await sessionOf(bytes, whisperSessionOptions(threads), opts.cache, name);
  return { session, info };
}
