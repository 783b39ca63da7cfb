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
 * the graph takes any G, n and L with rows ordered group-major (row = g·n + j). With G = 1 it
 * computes what the original does (one GEMM of n rows instead of n broadcast GEMVs; the test
 * checks the logits match). The prefill branch (`else_branch`, which projects K/V from
 * encoder_hidden_states) is not touched.
 *
 * Consequences callers must know:
 * - `cross_attentions.l` of a grouped run is [G, heads, n·L, T] (row j of group g, token i at
 *   [g, h, j·L + i]), not [G·n, heads, L, T].
 * - The decoder's positions come from the self cache's length and there is no attention mask,
 *   so every group's self cache must be equally long (see grouped-runner.ts).
 *
 * The edit works on the protobuf wire format (../onnx-proto.ts) as short-encoder.ts does: only
 * the then_branch's node list and value_info, the If node holding it and the top graph's
 * initializers (a few int64 constants) are rebuilt; everything else is copied byte for byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { DECODER_FILE } from './model.js';
import {
  ATTR_G, ATTR_I, ATTR_INTS, ATTR_NAME, ATTR_T, ATTR_TYPE, ATTR_TYPE_INT, ATTR_TYPE_INTS, DATA_LOCATION_EXTERNAL,
  GRAPH_INITIALIZER, GRAPH_NODE, GRAPH_OUTPUT, GRAPH_VALUE_INFO, MODEL_GRAPH, NODE_ATTRIBUTE, NODE_DOMAIN, NODE_INPUT,
  NODE_NAME, NODE_OP_TYPE, NODE_OUTPUT, ONNX_INT64, TENSOR_DATA_LOCATION, TENSOR_DATA_TYPE, TENSOR_DIMS, TENSOR_NAME,
  TENSOR_RAW_DATA, WT_LEN, WT_VARINT,
  concat, intField, lenField, parseMessage, readVarint, str, strField, type WireField,
} from '../onnx-proto.js';

interface ParsedNode {
  /** Index of the node's field in the graph's field list. */
  index: number;
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  fields: WireField[];
}

function parseNode(index: number, payload: Uint8Array): ParsedNode {
  const fields = parseMessage(payload);
  const one = (no: number): string => {
    const f = fields.find((x) => x.no === no);
    return f ? str(f) : '';
  };
  return {
    index,
    op: one(NODE_OP_TYPE),
    name: one(NODE_NAME),
    inputs: fields.filter((x) => x.no === NODE_INPUT).map(str),
    outputs: fields.filter((x) => x.no === NODE_OUTPUT).map(str),
    fields,
  };
}

/** The AttributeProto fields of a node's attribute `name`, or undefined. */
function attribute(node: ParsedNode, name: string): WireField[] | undefined {
  for (const f of node.fields) {
    if (f.no !== NODE_ATTRIBUTE || f.wt !== WT_LEN) continue;
    const a = parseMessage(f.payload);
    const n = a.find((x) => x.no === ATTR_NAME);
    if (n && str(n) === name) return a;
  }
  return undefined;
}

/** The int64 varint at `pos` (negative numbers are 10-byte two's complement: a double would round them). */
function readInt64(buf: Uint8Array, pos: number): [number, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('grouped decoder: truncated varint');
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [Number(BigInt.asIntN(64, v)), pos];
    shift += 7n;
  }
}

/** A VARINT field's value as a signed int64 (WireField.value is a double). */
const int64Of = (f: WireField): number => readInt64(f.raw, readInt64(f.raw, 0)[1])[0];

function intsAttr(node: ParsedNode, name: string): number[] | undefined {
  const a = attribute(node, name);
  if (!a) return undefined;
  const out: number[] = [];
  for (const x of a) {
    if (x.no !== ATTR_INTS) continue;
    if (x.wt === WT_VARINT) out.push(int64Of(x));
    else if (x.wt === WT_LEN) { // packed
      let p = 0;
      while (p < x.payload.length) { const [v, q] = readInt64(x.payload, p); out.push(v); p = q; }
    }
  }
  return out;
}

function intAttr(node: ParsedNode, name: string): number | undefined {
  const f = attribute(node, name)?.find((x) => x.no === ATTR_I && x.wt === WT_VARINT);
  return f ? int64Of(f) : undefined;
}

/** A Constant node's value holds a single element (a scalar, or any shape of one element). */
function isScalarConstant(node: ParsedNode): boolean {
  if (node.op !== 'Constant') return false;
  const t = attribute(node, 'value')?.find((x) => x.no === ATTR_T && x.wt === WT_LEN);
  if (!t) return false;
  const dims: number[] = [];
  for (const x of parseMessage(t.payload)) {
    if (x.no !== TENSOR_DIMS) continue;
    if (x.wt === WT_VARINT) dims.push(x.value);
    else if (x.wt === WT_LEN) {
      let p = 0;
      while (p < x.payload.length) { const [v, q] = readVarint(x.payload, p); dims.push(v); p = q; }
    }
  }
  return dims.every((d) => d === 1);
}

function nodeProto(
  opType: string, name: string, inputs: string[], outputs: string[],
  attrs: { int?: Record<string, number>; ints?: Record<string, number[]> } = {},
): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const i of inputs) parts.push(strField(NODE_INPUT, i));
  for (const o of outputs) parts.push(strField(NODE_OUTPUT, o));
  parts.push(strField(NODE_NAME, name), strField(NODE_OP_TYPE, opType));
  for (const [k, v] of Object.entries(attrs.int ?? {})) {
    parts.push(lenField(NODE_ATTRIBUTE, concat([strField(ATTR_NAME, k), intField(ATTR_I, v), intField(ATTR_TYPE, ATTR_TYPE_INT)])));
  }
  for (const [k, vs] of Object.entries(attrs.ints ?? {})) {
    parts.push(lenField(NODE_ATTRIBUTE, concat([
      strField(ATTR_NAME, k), ...vs.map((v) => intField(ATTR_INTS, v)), intField(ATTR_TYPE, ATTR_TYPE_INTS),
    ])));
  }
  parts.push(strField(NODE_DOMAIN, ''));
  return lenField(GRAPH_NODE, concat(parts));
}

function int64Initializer(name: string, values: number[]): Uint8Array {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return lenField(GRAPH_INITIALIZER, concat([
    intField(TENSOR_DIMS, values.length), intField(TENSOR_DATA_TYPE, ONNX_INT64),
    strField(TENSOR_NAME, name), lenField(TENSOR_RAW_DATA, raw),
  ]));
}

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
  externalData: boolean;
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

function rebuildNode(node: ParsedNode, rename: { input?: [number, string]; output?: [number, string] }): Uint8Array {
  let i = -1;
  let o = -1;
  return lenField(GRAPH_NODE, concat(node.fields.map((f) => {
    if (f.no === NODE_INPUT && rename.input && ++i === rename.input[0]) return strField(NODE_INPUT, rename.input[1]);
    if (f.no === NODE_OUTPUT && rename.output && ++o === rename.output[0]) return strField(NODE_OUTPUT, rename.output[1]);
    return f.raw;
  })));
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

  const parts: Uint8Array[] = [];
  fields.forEach((f, i) => {
    const s = atScores.get(i);
    const x = atContext.get(i);
    if (s) {
      const p = `${P}/l${s.layer}`;
      parts.push(
        nodeProto('Shape', `${p}/q_shape`, [s.q], [`${p}/q_shape`]), // [B, h, L, d]
        nodeProto('Shape', `${p}/kv_shape`, [s.key], [`${p}/kv_shape`]), // [G, h, T, d]
        nodeProto('Slice', `${p}/groups`, [`${p}/kv_shape`, c('0'), c('1'), c('0')], [`${p}/groups`]),
        nodeProto('Slice', `${p}/h_l_d`, [`${p}/q_shape`, c('1'), c('4'), c('0')], [`${p}/h_l_d`]),
        nodeProto('Concat', `${p}/q5_shape`, [`${p}/groups`, c('-1'), `${p}/h_l_d`], [`${p}/q5_shape`], { int: { axis: 0 } }),
        nodeProto('Reshape', `${p}/q5`, [s.q, `${p}/q5_shape`], [`${p}/q5`]), // [G, n, h, L, d]
        nodeProto('Transpose', `${p}/q5t`, [`${p}/q5`], [`${p}/q5t`], { ints: { perm: PERM_5D } }), // [G, h, n, L, d]
        nodeProto('Slice', `${p}/d`, [`${p}/q_shape`, c('3'), c('4'), c('0')], [`${p}/d`]),
        nodeProto('Concat', `${p}/qg_shape`, [c('0,0,-1'), `${p}/d`], [`${p}/qg_shape`], { int: { axis: 0 } }),
        nodeProto('Reshape', `${p}/qg`, [`${p}/q5t`, `${p}/qg_shape`], [`${p}/qg`]), // [G, h, n·L, d]
        rebuildNode(s.scores, { input: [0, `${p}/qg`] }),
      );
      return;
    }
    if (x) {
      const p = `${P}/l${x.layer}`;
      const out = x.context.outputs[0];
      parts.push(
        rebuildNode(x.context, { output: [0, `${p}/og`] }), // [G, h, n·L, d]
        nodeProto('Slice', `${p}/h`, [`${p}/q_shape`, c('1'), c('2'), c('0')], [`${p}/h`]),
        nodeProto('Slice', `${p}/l_d`, [`${p}/q_shape`, c('2'), c('4'), c('0')], [`${p}/l_d`]),
        nodeProto('Concat', `${p}/o5_shape`, [`${p}/groups`, `${p}/h`, c('-1'), `${p}/l_d`], [`${p}/o5_shape`], { int: { axis: 0 } }),
        nodeProto('Reshape', `${p}/o5`, [`${p}/og`, `${p}/o5_shape`], [`${p}/o5`]), // [G, h, n, L, d]
        nodeProto('Transpose', `${p}/o5t`, [`${p}/o5`], [`${p}/o5t`], { ints: { perm: PERM_5D } }), // [G, n, h, L, d]
        nodeProto('Reshape', `${p}/o`, [`${p}/o5t`, `${p}/q_shape`], [out]), // [B, h, L, d], as before
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
export function buildGroupedDecoderModel(model: Uint8Array): { bytes: Uint8Array; info: GroupedDecoderGraphInfo } {
  const top = parseMessage(model);
  const graphField = top.find((f) => f.no === MODEL_GRAPH && f.wt === WT_LEN);
  if (!graphField) throw new Error('grouped decoder: model has no graph');
  const graph = parseMessage(graphField.payload);
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
      return lenField(ATTR_G, r.graph);
    })));
  })));
  if (!found || layers.length === 0) throw new Error('grouped decoder: the If node has no then_branch graph');

  let externalData = false;
  for (const f of graph) {
    if (f.no !== GRAPH_INITIALIZER || f.wt !== WT_LEN) continue;
    if (parseMessage(f.payload).some((x) => x.no === TENSOR_DATA_LOCATION && x.value === DATA_LOCATION_EXTERNAL)) externalData = true;
  }
  const parts = graph.map((f, i) => (i === ifNode.index ? newIf : f.raw));
  for (const [name, values] of Object.entries(CONSTS)) parts.push(int64Initializer(name, values));
  const bytes = concat(top.map((f) => (f === graphField ? lenField(MODEL_GRAPH, concat(parts)) : f.raw)));
  return { bytes, info: { ifNode: ifNode.name, layers, externalData } };
}

/**
 * A session of `onnx/decoder_model_merged_quantized.onnx` of a Whisper model folder, rewritten in
 * memory as above (nothing is written to disk), with model.ts's session options. It serves every
 * call the original does (the prefill branch is unchanged; G = 1 is the original's broadcast).
 */
export async function loadGroupedDecoder(modelDir: string, threads: number): Promise<{ session: ort.InferenceSession; info: GroupedDecoderGraphInfo }> {
  const { bytes, info } = buildGroupedDecoderModel(readFileSync(join(modelDir, DECODER_FILE)));
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
