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
 * K/V), but Bk = G > 1 with B = G·n does not broadcast. This module folds the rows of a group
 * into the MatMuls' M dimension instead, around the two MatMuls and nothing else:
 *
 *   Qg = Reshape(Transpose(Reshape(Q, [G, -1, 8, L, 64]), [0,2,1,3,4]), [G, 8, n·L, 64])
 *   P  = Softmax(Mul(MatMul(Qg, Kt), 1.0))                                      [G, 8, n·L, T]
 *   O  = Reshape(Transpose(Reshape(MatMul(P, V), [G, 8, -1, L, 64]), [0,2,1,3,4]), Shape(Q))
 *
 * G is read from the K/V input's batch dim and every other dim from Q's shape at run time, so
 * the graph takes any G, n and L with rows ordered group-major (row = g·n + j); the shape nodes
 * are shared by all layers. With G = 1 it computes what the original does: bit-identical for
 * one row, ~1e-5 apart for n rows (one GEMM of n rows instead of n broadcast GEMVs). For G > 1
 * it is bit-identical to the original graph fed every row's K/V tiled (what costs ~37 MB a row).
 * The prefill branch (`else_branch`, which projects K/V from encoder_hidden_states) is not
 * touched.
 *
 * Batching rows of different requests still moves their logits a little (up to ~1.7 on real
 * clips, a near-tie token flipped now and then): the export quantises activations per tensor,
 * so each row's int8 scale depends on the others, exactly as it already does between the beams
 * of one request. The `rowQuantization` option (row-quantization.ts) removes that.
 *
 * Consequences callers must know:
 * - `cross_attentions.l` of a grouped run is [G, heads, n·L, T] (row j of group g, token i at
 *   [g, h, j·L + i]), not [G·n, heads, L, T].
 * - The decoder's positions come from the self cache's length and there is no attention mask,
 *   so every group's self cache must be equally long (see grouped-runner.ts).
 *
 * The edit works on the protobuf wire format (../onnx-proto.ts) as short-encoder.ts does: only
 * the then_branch's node list and value_info, the If node holding it and the top graph's
 * initializers (a few constants, plus the weights' column sums with rowQuantization) are
 * rebuilt; everything else is copied byte for byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { DECODER_FILE } from './model.js';
import {
  ATTR_G, ATTR_NAME, DATA_LOCATION_EXTERNAL, GRAPH_INITIALIZER, GRAPH_NODE, GRAPH_OUTPUT, GRAPH_VALUE_INFO, MODEL_GRAPH,
  MODEL_OPSET_IMPORT, NODE_ATTRIBUTE, OPSET_DOMAIN, OPSET_VERSION, TENSOR_DATA_LOCATION, TENSOR_NAME, WT_LEN,
  concat, lenField, parseMessage, str, type WireField,
} from '../onnx-proto.js';
import { rewriteRowQuantization, type RowQuantizationInfo } from './row-quantization.js';
import {
  int64Initializer, intAttr, intsAttr, isScalarConstant, nodeProto, parseNode, renameNode, type ParsedNode,
} from '../onnx-nodes.js';

const P = 'sori_grouped';
/** 1-D int64 constants the inserted nodes share; initializers of the top graph (outer scope). */
const CONSTS: Record<string, number[]> = {
  [`${P}/0`]: [0], [`${P}/1`]: [1], [`${P}/2`]: [2], [`${P}/3`]: [3], [`${P}/4`]: [4],
  [`${P}/-1`]: [-1], [`${P}/0,0,-1`]: [0, 0, -1],
};
const c = (v: string): string => `${P}/${v}`;
const PERM_5D = [0, 2, 1, 3, 4];

/** What the rewrite found and changed, per decoder layer. */
export interface GroupedLayerInfo {
  layer: number;
  /** MatMul(Q, K^T) and MatMul(P, V): the nodes now fed with / followed by regrouping. */
  scoresMatMul: string;
  contextMatMul: string;
  /** Ops between the two MatMuls, in order (Mul by 1.0 and Softmax in the optimum export). */
  between: string[];
}

export interface GroupedDecoderGraphInfo {
  ifNode: string;
  layers: GroupedLayerInfo[];
  /** Set when the cached branch's activations are quantised per row (row-quantization.ts). */
  rowQuantization?: RowQuantizationInfo;
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
}

interface LayerMatch {
  layer: number;
  q: string;
  key: string;
  scores: ParsedNode;
  context: ParsedNode;
  between: ParsedNode[];
}

/** Finds each layer's cross-attention in the cached branch; throws on anything unexpected. */
function matchLayers(nodes: ParsedNode[], outputs: Set<string>): LayerMatch[] {
  const consumers = new Map<string, ParsedNode[]>();
  const producer = new Map<string, ParsedNode>();
  for (const n of nodes) {
    for (const i of n.inputs) {
      if (!consumers.has(i)) consumers.set(i, []);
      consumers.get(i)?.push(n);
    }
    for (const o of n.outputs) producer.set(o, n);
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
    const kt = only(`consumer of ${key}`, consumers.get(key));
    const perm = intsAttr(kt, 'perm');
    if (kt.op !== 'Transpose' || perm?.join(',') !== '0,1,3,2') {
      throw new Error(`grouped decoder: ${key} feeds ${kt.op} ${kt.name} (perm ${perm?.join(',')}), not Transpose [0,1,3,2]`);
    }
    const scores = only(`consumer of ${kt.outputs[0]}`, consumers.get(kt.outputs[0]));
    if (scores.op !== 'MatMul' || scores.inputs[1] !== kt.outputs[0]) throw new Error(`grouped decoder: K^T of layer ${layer} feeds ${scores.op} ${scores.name}`);
    const context = only(`consumer of ${value}`, consumers.get(value));
    if (context.op !== 'MatMul' || context.inputs[1] !== value) throw new Error(`grouped decoder: ${value} feeds ${context.op} ${context.name}`);
    // Between the MatMuls only row-wise ops may sit: they see [G, h, n·L, T] instead of
    // [G·n, h, L, T] and must not care. A mask Add, say, would.
    const between: ParsedNode[] = [];
    let t = scores.outputs[0];
    while (t !== context.inputs[0]) {
      const n = only(`consumer of ${t}`, consumers.get(t));
      const ok =
        (n.op === 'Softmax' && [-1, 3].includes(intAttr(n, 'axis') ?? NaN)) ||
        ((n.op === 'Mul' || n.op === 'Div') && n.inputs[0] === t && producer.get(n.inputs[1]) !== undefined &&
          isScalarConstant(producer.get(n.inputs[1]) as ParsedNode));
      if (!ok || between.length > 4) throw new Error(`grouped decoder: unexpected ${n.op} ${n.name} between the cross-attention MatMuls of layer ${layer}`);
      between.push(n);
      t = n.outputs[0];
    }
    for (const x of [scores, ...between]) {
      if (outputs.has(x.outputs[0]) && x !== between[between.length - 1]) {
        throw new Error(`grouped decoder: ${x.outputs[0]} is a graph output`);
      }
    }
    return { layer, q: scores.inputs[0], key, scores, context, between };
  });
}

/** The cached branch with every layer's cross-attention regrouped (file comment). */
function rewriteCachedBranch(graph: Uint8Array): { graph: Uint8Array; layers: GroupedLayerInfo[] } {
  const fields = parseMessage(graph);
  const nodes: ParsedNode[] = [];
  const outputs = new Set<string>();
  fields.forEach((f, i) => {
    if (f.no === GRAPH_NODE && f.wt === WT_LEN) nodes.push(parseNode(i, f.payload));
    if (f.no === GRAPH_OUTPUT && f.wt === WT_LEN) {
      const n = parseMessage(f.payload).find((x) => x.no === 1);
      if (n) outputs.add(str(n));
    }
  });
  const matches = matchLayers(nodes, outputs);
  const atScores = new Map(matches.map((m) => [m.scores.index, m]));
  const atContext = new Map(matches.map((m) => [m.context.index, m]));
  // Their shapes change (grouped layout); the runtime infers them again.
  const regrouped = new Set(matches.flatMap((m) => [m.scores, ...m.between].map((n) => n.outputs[0])));

  // Q has the same shape [B, h, L, d] in every layer and every layer's K/V the same G: the
  // shapes are computed once, at the first layer (which comes first in the node order).
  const sh = (v: string): string => `${P}/shape/${v}`;
  let scoresShapes = false;
  let contextShapes = false;
  const parts: Uint8Array[] = [];
  fields.forEach((f, i) => {
    const s = atScores.get(i);
    const x = atContext.get(i);
    if (s) {
      const p = `${P}/l${s.layer}`;
      if (!scoresShapes) {
        scoresShapes = true;
        parts.push(
          nodeProto('Shape', sh('q'), [s.q], [sh('q')]), // [B, h, L, d]
          nodeProto('Shape', sh('kv'), [s.key], [sh('kv')]), // [G, h, T, d]
          nodeProto('Slice', sh('groups'), [sh('kv'), c('0'), c('1'), c('0')], [sh('groups')]),
          nodeProto('Slice', sh('h_l_d'), [sh('q'), c('1'), c('4'), c('0')], [sh('h_l_d')]),
          nodeProto('Concat', sh('q5'), [sh('groups'), c('-1'), sh('h_l_d')], [sh('q5')], { int: { axis: 0 } }),
          nodeProto('Slice', sh('d'), [sh('q'), c('3'), c('4'), c('0')], [sh('d')]),
          nodeProto('Concat', sh('qg'), [c('0,0,-1'), sh('d')], [sh('qg')], { int: { axis: 0 } }),
        );
      }
      parts.push(
        nodeProto('Reshape', `${p}/q5`, [s.q, sh('q5')], [`${p}/q5`]), // [G, n, h, L, d]
        nodeProto('Transpose', `${p}/q5t`, [`${p}/q5`], [`${p}/q5t`], { ints: { perm: PERM_5D } }), // [G, h, n, L, d]
        nodeProto('Reshape', `${p}/qg`, [`${p}/q5t`, sh('qg')], [`${p}/qg`]), // [G, h, n·L, d]
        renameNode(s.scores, { input: [0, `${p}/qg`] }),
      );
      return;
    }
    if (x) {
      const p = `${P}/l${x.layer}`;
      const out = x.context.outputs[0];
      parts.push(renameNode(x.context, { output: [0, `${p}/og`] })); // [G, h, n·L, d]
      if (!contextShapes) {
        contextShapes = true;
        parts.push(
          nodeProto('Slice', sh('h'), [sh('q'), c('1'), c('2'), c('0')], [sh('h')]),
          nodeProto('Slice', sh('l_d'), [sh('q'), c('2'), c('4'), c('0')], [sh('l_d')]),
          nodeProto('Concat', sh('o5'), [sh('groups'), sh('h'), c('-1'), sh('l_d')], [sh('o5')], { int: { axis: 0 } }),
        );
      }
      parts.push(
        nodeProto('Reshape', `${p}/o5`, [`${p}/og`, sh('o5')], [`${p}/o5`]), // [G, h, n, L, d]
        nodeProto('Transpose', `${p}/o5t`, [`${p}/o5`], [`${p}/o5t`], { ints: { perm: PERM_5D } }), // [G, n, h, L, d]
        nodeProto('Reshape', `${p}/o`, [`${p}/o5t`, sh('q')], [out]), // [B, h, L, d], as before
      );
      return;
    }
    if (f.no === GRAPH_VALUE_INFO) {
      const n = parseMessage(f.payload).find((y) => y.no === 1);
      if (n && regrouped.has(str(n))) return;
    }
    parts.push(f.raw);
  });
  return {
    graph: concat(parts),
    layers: matches.map((m) => ({
      layer: m.layer, scoresMatMul: m.scores.name, contextMatMul: m.context.name, between: m.between.map((n) => n.op),
    })),
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
  let opset = 0;
  for (const f of top) {
    if (f.no !== MODEL_OPSET_IMPORT || f.wt !== WT_LEN) continue;
    const o = parseMessage(f.payload);
    const domain = o.find((x) => x.no === OPSET_DOMAIN);
    if (!domain || str(domain) === '' || str(domain) === 'ai.onnx') opset = o.find((x) => x.no === OPSET_VERSION)?.value ?? opset;
  }
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
      const r = rewriteCachedBranch(x.payload);
      layers = r.layers;
      if (!opts.rowQuantization) return lenField(ATTR_G, r.graph);
      const q = rewriteRowQuantization(r.graph, (name) => initializers.get(name), opset);
      rowQuantization = q.info;
      extra.push(...q.initializers);
      return lenField(ATTR_G, q.graph);
    })));
  })));
  if (!found || layers.length === 0) throw new Error('grouped decoder: the If node has no then_branch graph');

  const externalData = [...initializers.values()].some((t) => t.some((x) => x.no === TENSOR_DATA_LOCATION && x.value === DATA_LOCATION_EXTERNAL));
  const parts = graph.map((f, i) => (i === ifNode.index ? newIf : f.raw));
  for (const [name, values] of Object.entries(CONSTS)) parts.push(int64Initializer(name, values));
  parts.push(...extra);
  const bytes = concat(top.map((f) => (f === graphField ? lenField(MODEL_GRAPH, concat(parts)) : f.raw)));
  return { bytes, info: { ifNode: ifNode.name, layers, rowQuantization, externalData } };
}

/**
 * A session of `onnx/decoder_model_merged_quantized.onnx` of a Whisper model folder, rewritten in
 * memory as above (nothing is written to disk), with model.ts's session options. It serves every
 * call the original does (the prefill branch is unchanged; G = 1 is the original's broadcast).
 */
export async function loadGroupedDecoder(
  modelDir: string, threads: number, opts: GroupedDecoderOptions = {},
): Promise<{ session: ort.InferenceSession; info: GroupedDecoderGraphInfo }> {
  const { bytes, info } = buildGroupedDecoderModel(readFileSync(join(modelDir, DECODER_FILE)), opts);
  if (info.externalData) {
    throw new Error('grouped decoder: decoders with external data are not supported (the rewritten model would lose the data file)');
  }
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: Math.max(1, threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  return { session, info };
}
