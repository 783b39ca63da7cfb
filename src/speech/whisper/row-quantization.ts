/**
 * Per-row dynamic quantisation for the int8 decoder's cached branch, so that batching rows
 * (beams, or requests with grouped-decoder.ts) no longer changes any row's numbers.
 *
 * onnxruntime's dynamic quantisation exports every int8 linear layer as
 *
 *   q, s, z = DynamicQuantizeLinear(x)                     one scale / zero point per tensor
 *   y       = Mul(Cast(MatMulInteger(q, W, z, wz)), Mul(s, ws))
 *
 * so the scale of a row depends on every other row in the batch: running a request next to
 * others moved its logits by up to ~1.7 and flipped near-tie tokens (grouped-decoder.int test).
 * This rewrite computes the same quantisation per row (over the last axis) with standard ops,
 *
 *   mn = Min(ReduceMin(x, -1), 0)    mx = Max(ReduceMax(x, -1), 0)     [.., 1]
 *   s  = Max((mx - mn) / 255, tiny)  zn = Round(mn / s)   (= -zero point; ≤ 0)
 *   q  = Cast<uint8>(Clip(Round(x / s) - zn, 0, 255))
 *
 * DynamicQuantizeLinear's formulas (round half to even, range widened to hold 0), and, because
 * the CPU MatMulInteger takes only a per-tensor zero point for A, moves the zero point out of
 * the product, exactly in int32:
 *
 *   Σ_k (q - z)(W - wz) = MatMulInteger(q, W, 0, wz) + zn · colsum(W - wz)
 *
 * with colsum computed here from the weights (an int32 initializer per weight). For a batch of
 * one row the result is bit-identical to the original (checked in the test); for more rows,
 * each row gets what it would get alone. The price is ~15 small nodes per quantiser instead of
 * ORT's fused DynamicQuantizeMatMul: a few ms per step (bench/grouped-decoder.ts).
 */
import {
  GRAPH_NODE, GRAPH_VALUE_INFO, ONNX_INT32, ONNX_INT8, ONNX_UINT8, TENSOR_DATA_TYPE, TENSOR_INT32_DATA, TENSOR_RAW_DATA, WT_LEN,
  concat, parseMessage, str, type WireField,
} from '../onnx-proto.js';
import {
  floatScalarInitializer, int64Initializer, nodeProto, parseNode, rawInitializer, repeatedInts, tensorDims, type ParsedNode,
} from '../onnx-nodes.js';

const P = 'sori_rowq';
const ZERO = `${P}/zero`;
const C255 = `${P}/255`;
const TINY = `${P}/tiny`;
const AXES = `${P}/axes`;
const ZERO_U8 = `${P}/zero_u8`;

export interface RowQuantizationInfo {
  /** DynamicQuantizeLinear nodes made per-row. */
  quantizers: number;
  /** MatMulInteger nodes they feed. */
  matmuls: number;
}

/** Integer values of an int8 / uint8 initializer: raw_data, or int32_data as small exports store them. */
function int8Values(t: WireField[], what: string): Int32Array {
  const type = t.find((x) => x.no === TENSOR_DATA_TYPE)?.value;
  if (type !== ONNX_INT8 && type !== ONNX_UINT8) throw new Error(`row quantization: ${what} is not int8/uint8`);
  const raw = t.find((x) => x.no === TENSOR_RAW_DATA && x.wt === WT_LEN)?.payload;
  if (raw) {
    const out = new Int32Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = type === ONNX_INT8 ? (raw[i] << 24) >> 24 : raw[i];
    return out;
  }
  const values = repeatedInts(t, TENSOR_INT32_DATA);
  if (values.length === 0) throw new Error(`row quantization: ${what} has neither raw_data nor int32_data`);
  return Int32Array.from(values);
}

/** colsum[n] = Σ_k (W[k, n] - wz[n]) as an int32 initializer. */
function columnSums(name: string, w: WireField[], wz: WireField[] | undefined, what: string): Uint8Array {
  const dims = tensorDims(w);
  if (dims.length !== 2) throw new Error(`row quantization: weight ${what} is [${dims.join(', ')}], not 2-D`);
  const [k, n] = dims;
  const wv = int8Values(w, what);
  const zv = wz ? int8Values(wz, `${what} zero point`) : new Int32Array(1);
  if (zv.length !== 1 && zv.length !== n) throw new Error(`row quantization: ${what} zero point has ${zv.length} values for ${n} columns`);
  const sums = new Int32Array(n);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) sums[c] += wv[r * n + c] - zv[zv.length === 1 ? 0 : c];
  return rawInitializer(name, ONNX_INT32, [n], new Uint8Array(sums.buffer));
}

/**
 * `graph` (a GraphProto's bytes) with every DynamicQuantizeLinear -> MatMulInteger chain made
 * per-row. `initializer` finds a weight (TensorProto fields) by name, in this graph or an outer
 * one; `opset` is the model's default-domain opset (ReduceMin takes axes as an input from 18).
 * Returns the graph and the initializers to add to the top graph.
 */
export function rewriteRowQuantization(
  graph: Uint8Array, initializer: (name: string) => WireField[] | undefined, opset: number,
): { graph: Uint8Array; initializers: Uint8Array[]; info: RowQuantizationInfo } {
  const fields = parseMessage(graph);
  const nodes: ParsedNode[] = [];
  fields.forEach((f, i) => { if (f.no === GRAPH_NODE && f.wt === WT_LEN) nodes.push(parseNode(i, f.payload)); });
  const consumers = new Map<string, ParsedNode[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);

  // Quantiser outputs -> the per-row names that replace them.
  const quantizers = new Map<number, ParsedNode>();
  const negZeroPoint = new Map<string, string>(); // z -> zn (int32)
  const reshaped = new Set<string>(); // tensors whose shape changes (value_info dropped)
  for (const n of nodes) {
    if (n.op !== 'DynamicQuantizeLinear') continue;
    const [q, s, z] = n.outputs;
    const users = consumers.get(q) ?? [];
    if (users.length === 0 || users.some((u) => u.op !== 'MatMulInteger' || u.inputs[0] !== q || u.inputs[2] !== z)) {
      throw new Error(`row quantization: ${n.name}'s output feeds something else than MatMulInteger(q, W, z, wz)`);
    }
    if ((consumers.get(z) ?? []).some((u) => !users.includes(u))) throw new Error(`row quantization: ${n.name}'s zero point has other users`);
    const scaleUsers = consumers.get(s) ?? [];
    // The scale becomes [.., 1] instead of a scalar: fine for elementwise Mul (broadcast).
    if (scaleUsers.some((u) => u.op !== 'Mul')) throw new Error(`row quantization: ${n.name}'s scale feeds ${scaleUsers.map((u) => u.op).join(', ')}`);
    reshaped.add(s);
    for (const u of scaleUsers) reshaped.add(u.outputs[0]);
    quantizers.set(n.index, n);
    negZeroPoint.set(z, `${P}/${n.name}/zn_i32`);
  }

  const initializers: Uint8Array[] = [
    floatScalarInitializer(ZERO, 0), floatScalarInitializer(C255, 255), floatScalarInitializer(TINY, 1.1754943508222875e-38),
    int64Initializer(AXES, [-1]), rawInitializer(ZERO_U8, ONNX_UINT8, [], new Uint8Array(1)),
  ];
  const colsums = new Map<string, string>();
  const reduce = (op: string, name: string, x: string, out: string): Uint8Array =>
    opset >= 18 ? nodeProto(op, name, [x, AXES], [out], { int: { keepdims: 1 } }) : nodeProto(op, name, [x], [out], { int: { keepdims: 1 }, ints: { axes: [-1] } });

  let matmuls = 0;
  const parts: Uint8Array[] = [];
  fields.forEach((f, i) => {
    const dq = quantizers.get(i);
    if (dq) {
      const [x] = dq.inputs;
      const [q, s] = dq.outputs;
      const p = `${P}/${dq.name}`;
      parts.push(
        reduce('ReduceMin', `${p}/min`, x, `${p}/min`),
        reduce('ReduceMax', `${p}/max`, x, `${p}/max`),
        nodeProto('Min', `${p}/min0`, [`${p}/min`, ZERO], [`${p}/min0`]),
        nodeProto('Max', `${p}/max0`, [`${p}/max`, ZERO], [`${p}/max0`]),
        nodeProto('Sub', `${p}/range`, [`${p}/max0`, `${p}/min0`], [`${p}/range`]),
        nodeProto('Div', `${p}/scale0`, [`${p}/range`, C255], [`${p}/scale0`]),
        // Only an all-zero row has range 0; DynamicQuantizeLinear would divide by 0 too.
        nodeProto('Max', `${p}/scale`, [`${p}/scale0`, TINY], [s]),
        nodeProto('Div', `${p}/min_s`, [`${p}/min0`, s], [`${p}/min_s`]),
        nodeProto('Round', `${p}/zn`, [`${p}/min_s`], [`${p}/zn`]),
        nodeProto('Div', `${p}/x_s`, [x, s], [`${p}/x_s`]),
        nodeProto('Round', `${p}/x_r`, [`${p}/x_s`], [`${p}/x_r`]),
        nodeProto('Sub', `${p}/x_z`, [`${p}/x_r`, `${p}/zn`], [`${p}/x_z`]),
        nodeProto('Clip', `${p}/x_c`, [`${p}/x_z`, ZERO, C255], [`${p}/x_c`]),
        nodeProto('Cast', `${p}/q`, [`${p}/x_c`], [q], { int: { to: ONNX_UINT8 } }),
        nodeProto('Cast', `${p}/zn_i32`, [`${p}/zn`], [`${p}/zn_i32`], { int: { to: ONNX_INT32 } }),
      );
      return;
    }
    if (f.no === GRAPH_NODE && f.wt === WT_LEN) {
      const n = parseNode(i, f.payload);
      const zn = n.op === 'MatMulInteger' ? negZeroPoint.get(n.inputs[2]) : undefined;
      if (n.op === 'MatMulInteger' && zn) {
        const [, w, , wz] = n.inputs;
        let cs = colsums.get(w);
        if (!cs) {
          const wt = initializer(w);
          if (!wt) throw new Error(`row quantization: weight ${w} of ${n.name} is not an initializer`);
          const wzt = wz ? initializer(wz) : undefined;
          if (wz && !wzt) throw new Error(`row quantization: zero point ${wz} of ${n.name} is not an initializer`);
          cs = `${P}/colsum/${w}`;
          initializers.push(columnSums(cs, wt, wzt, w));
          colsums.set(w, cs);
        }
        const p = `${P}/${n.name}`;
        const y = n.outputs[0];
        parts.push(
          nodeProto('MatMulInteger', n.name, [n.inputs[0], w, ZERO_U8, ...(wz ? [wz] : [])], [`${p}/ab`]),
          nodeProto('Mul', `${p}/zn_colsum`, [zn, cs], [`${p}/zn_colsum`]),
          nodeProto('Add', `${p}/y`, [`${p}/ab`, `${p}/zn_colsum`], [y]),
        );
        matmuls++;
        return;
      }
    }
    if (f.no === GRAPH_VALUE_INFO) {
      const name = parseMessage(f.payload).find((y) => y.no === 1);
      if (name && reshaped.has(str(name))) return;
    }
    parts.push(f.raw);
  });
  return { graph: concat(parts), initializers, info: { quantizers: quantizers.size, matmuls } };
}
