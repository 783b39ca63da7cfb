/**
 * Nodes and initializers of an ONNX graph on the wire format (onnx-proto.ts): parse a node's
 * op, name, inputs, outputs and attributes; build new nodes and initializers. Shared by the
 * graph rewrites of whisper/grouped-decoder.ts, whisper/row-quantization.ts and
 * whisper/encoder-heads.ts.
 */
import {
  ATTR_I, ATTR_INTS, ATTR_NAME, ATTR_T, ATTR_TYPE, ATTR_TYPE_INT, ATTR_TYPE_INTS, DIM_PARAM, DIM_VALUE, GRAPH_INITIALIZER, GRAPH_NODE,
  MODEL_OPSET_IMPORT, SHAPE_DIM, TYPE_TENSOR, TYPE_TENSOR_ELEM_TYPE, TYPE_TENSOR_SHAPE, VALUE_INFO_NAME, VALUE_INFO_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN, NODE_INPUT, NODE_NAME, NODE_OP_TYPE, NODE_OUTPUT, ONNX_FLOAT, ONNX_INT64,
  OPSET_DOMAIN, OPSET_VERSION,
  TENSOR_DATA_TYPE, TENSOR_DIMS, TENSOR_NAME, TENSOR_RAW_DATA, WT_LEN, WT_VARINT,
  concat, intField, lenField, parseMessage, readVarint, str, strField, type WireField,
} from './onnx-proto.js';

export interface ParsedNode {
  /** Index of the node's field in the graph's field list. */
  index: number;
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  fields: WireField[];
}

export function parseNode(index: number, payload: Uint8Array): ParsedNode {
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
export function attribute(node: ParsedNode, name: string): WireField[] | undefined {
  for (const f of node.fields) {
    if (f.no !== NODE_ATTRIBUTE || f.wt !== WT_LEN) continue;
    const a = parseMessage(f.payload);
    const n = a.find((x) => x.no === ATTR_NAME);
    if (n && str(n) === name) return a;
  }
  return undefined;
}

/** The int64 varint at `pos` (negative numbers are 10-byte two's complement: a double would round them). */
export function readInt64(buf: Uint8Array, pos: number): [number, number] {
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
export const int64Of = (f: WireField): number => readInt64(f.raw, readInt64(f.raw, 0)[1])[0];

/** The values of repeated integer field `no` among `fields`, whether sent one by one or packed. */
export function repeatedInts(fields: WireField[], no: number): number[] {
  const out: number[] = [];
  for (const x of fields) {
    if (x.no !== no) continue;
    if (x.wt === WT_VARINT) out.push(int64Of(x));
    else if (x.wt === WT_LEN) { // packed
      let p = 0;
      while (p < x.payload.length) { const [v, q] = readInt64(x.payload, p); out.push(v); p = q; }
    }
  }
  return out;
}

export function intsAttr(node: ParsedNode, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a ? repeatedInts(a, ATTR_INTS) : undefined;
}

export function intAttr(node: ParsedNode, name: string): number | undefined {
  const f = attribute(node, name)?.find((x) => x.no === ATTR_I && x.wt === WT_VARINT);
  return f ? int64Of(f) : undefined;
}

export function nodeProto(
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

export function int64Initializer(name: string, values: number[]): Uint8Array {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return lenField(GRAPH_INITIALIZER, concat([
    intField(TENSOR_DIMS, values.length), intField(TENSOR_DATA_TYPE, ONNX_INT64),
    strField(TENSOR_NAME, name), lenField(TENSOR_RAW_DATA, raw),
  ]));
}

export function floatScalarInitializer(name: string, value: number): Uint8Array {
  const raw = new Uint8Array(4);
  new DataView(raw.buffer).setFloat32(0, value, true);
  return lenField(GRAPH_INITIALIZER, concat([
    intField(TENSOR_DATA_TYPE, ONNX_FLOAT), strField(TENSOR_NAME, name), lenField(TENSOR_RAW_DATA, raw),
  ]));
}

/**
 * A graph's input or output declaration (ValueInfoProto, as field `no`: GRAPH_INPUT or
 * GRAPH_OUTPUT) of a tensor with symbolic (string) or fixed dims.
 */
export function tensorDeclaration(no: number, name: string, elemType: number, dims: (number | string)[]): Uint8Array {
  const shape = concat(dims.map((d) => lenField(SHAPE_DIM, typeof d === 'number' ? intField(DIM_VALUE, d) : strField(DIM_PARAM, d))));
  const tensor = concat([intField(TYPE_TENSOR_ELEM_TYPE, elemType), lenField(TYPE_TENSOR_SHAPE, shape)]);
  return lenField(no, concat([strField(VALUE_INFO_NAME, name), lenField(VALUE_INFO_TYPE, lenField(TYPE_TENSOR, tensor))]));
}

/** A tensor with `dims` of data type `dataType` whose raw_data is `raw` (little-endian). */
export function rawInitializer(name: string, dataType: number, dims: number[], raw: Uint8Array): Uint8Array {
  return lenField(GRAPH_INITIALIZER, concat([
    ...dims.map((d) => intField(TENSOR_DIMS, d)), intField(TENSOR_DATA_TYPE, dataType),
    strField(TENSOR_NAME, name), lenField(TENSOR_RAW_DATA, raw),
  ]));
}

/** A node rebuilt with input / output number k renamed; other fields byte for byte. */
export function renameNode(node: ParsedNode, rename: { input?: [number, string]; output?: [number, string] }): Uint8Array {
  let i = -1;
  let o = -1;
  return lenField(GRAPH_NODE, concat(node.fields.map((f) => {
    if (f.no === NODE_INPUT && rename.input && ++i === rename.input[0]) return strField(NODE_INPUT, rename.input[1]);
    if (f.no === NODE_OUTPUT && rename.output && ++o === rename.output[0]) return strField(NODE_OUTPUT, rename.output[1]);
    return f.raw;
  })));
}

/** The dims of a TensorProto (packed or not). */
export function tensorDims(fields: WireField[]): number[] {
  const dims: number[] = [];
  for (const x of fields) {
    if (x.no !== TENSOR_DIMS) continue;
    if (x.wt === WT_VARINT) dims.push(x.value);
    else if (x.wt === WT_LEN) {
      let p = 0;
      while (p < x.payload.length) { const [v, q] = readVarint(x.payload, p); dims.push(v); p = q; }
    }
  }
  return dims;
}

/** The default-domain ('' or 'ai.onnx') opset a model's top-level fields import, 0 if none. */
export function onnxOpset(top: readonly WireField[]): number {
  let opset = 0;
  for (const f of top) {
    if (f.no !== MODEL_OPSET_IMPORT || f.wt !== WT_LEN) continue;
    const o = parseMessage(f.payload);
    const domain = o.find((x) => x.no === OPSET_DOMAIN);
    if (!domain || str(domain) === '' || str(domain) === 'ai.onnx') opset = o.find((x) => x.no === OPSET_VERSION)?.value ?? opset;
  }
  return opset;
}
