/**
 * The protobuf wire format, just enough to walk an ONNX model and rebuild parts of it, with no
 * protobuf library and no onnx.proto: messages are split into their fields (number, wire type,
 * payload, and the bytes as encoded, so untouched fields can be copied through byte for byte),
 * and a few writers build new fields. Plus the ONNX field numbers the two users need:
 * events/onnx-constants.ts (reads scalar initializers), whisper/short-encoder.ts (rewrites
 * the encoder graph) and whisper/grouped-decoder.ts (rewrites the decoder's cached branch).
 */

export const WT_VARINT = 0;
export const WT_I64 = 1;
export const WT_LEN = 2;
export const WT_I32 = 5;

export interface WireField {
  no: number;
  wt: number;
  /** The whole field as it was encoded: tag and value. */
  raw: Uint8Array;
  /** LEN: the payload; I64 / I32: the 8 / 4 value bytes (little-endian); VARINT: empty. */
  payload: Uint8Array;
  /** VARINT: the value (as a number, exact below 2^53); otherwise 0. */
  value: number;
}

/** The varint at `pos`: its value (exact below 2^53) and the position after it. */
export function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('protobuf: truncated varint');
    const b = buf[pos++];
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos];
    mul *= 128;
    if (mul > 2 ** 63) throw new Error('protobuf: varint too long');
  }
}

/**
 * The fields of one message, in order. Payloads are views into `buf` (no copy): pass a field's
 * payload to parseMessage again to walk a nested message.
 */
export function parseMessage(buf: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const no = Math.floor(tag / 8);
    const wt = tag & 7;
    let payload = buf.subarray(0, 0);
    let value = 0;
    if (wt === WT_VARINT) {
      [value, pos] = readVarint(buf, pos);
    } else if (wt === WT_LEN) {
      const [len, p2] = readVarint(buf, pos);
      if (p2 + len > buf.length) throw new Error('protobuf: truncated field');
      payload = buf.subarray(p2, p2 + len);
      pos = p2 + len;
    } else if (wt === WT_I64 || wt === WT_I32) {
      const len = wt === WT_I64 ? 8 : 4;
      if (pos + len > buf.length) throw new Error('protobuf: truncated field');
      payload = buf.subarray(pos, pos + len);
      pos += len;
    } else {
      throw new Error(`protobuf: unsupported wire type ${wt}`);
    }
    out.push({ no, wt, raw: buf.subarray(start, pos), payload, value });
  }
  return out;
}

const fromUtf8 = new TextDecoder();
const utf8 = new TextEncoder();

/** A string field's text. */
export const str = (f: WireField): string => fromUtf8.decode(f.payload);

/** The little-endian float32 at the start of `bytes` (raw tensor data, a fixed32 or packed floats). */
export function float32LE(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
}

function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const bytes: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return bytes;
}

/** A LEN field: a nested message, bytes or a string. */
export function lenField(no: number, payload: Uint8Array): Uint8Array {
  const head = [...varint(no * 8 + WT_LEN), ...varint(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

export function strField(no: number, s: string): Uint8Array {
  return lenField(no, utf8.encode(s));
}

/** A VARINT field (negative numbers as 64-bit two's complement, as int64 fields are). */
export function intField(no: number, n: number | bigint): Uint8Array {
  return Uint8Array.from([...varint(no * 8 + WT_VARINT), ...varint(n)]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ONNX field numbers (onnx.proto, stable since IR version 3).
export const MODEL_GRAPH = 7;
export const MODEL_OPSET_IMPORT = 8;
export const OPSET_DOMAIN = 1;
export const OPSET_VERSION = 2;
export const GRAPH_NODE = 1;
export const GRAPH_INITIALIZER = 5;
export const GRAPH_INPUT = 11;
export const GRAPH_OUTPUT = 12;
export const GRAPH_VALUE_INFO = 13;
export const NODE_INPUT = 1;
export const NODE_OUTPUT = 2;
export const NODE_NAME = 3;
export const NODE_OP_TYPE = 4;
export const NODE_ATTRIBUTE = 5;
export const NODE_DOMAIN = 7;
export const ATTR_NAME = 1;
export const ATTR_I = 3;
export const ATTR_T = 5;
export const ATTR_G = 6;
export const ATTR_INTS = 8;
export const ATTR_TYPE = 20;
export const TENSOR_DIMS = 1;
export const TENSOR_DATA_TYPE = 2;
export const TENSOR_FLOAT_DATA = 4;
export const TENSOR_INT32_DATA = 5;
export const TENSOR_NAME = 8;
export const TENSOR_RAW_DATA = 9;
export const TENSOR_EXTERNAL_DATA = 13;
export const TENSOR_DATA_LOCATION = 14;
export const STRING_ENTRY_KEY = 1;
export const STRING_ENTRY_VALUE = 2;
export const VALUE_INFO_NAME = 1;
export const VALUE_INFO_TYPE = 2;
export const TYPE_TENSOR = 1;
export const TYPE_TENSOR_ELEM_TYPE = 1;
export const TYPE_TENSOR_SHAPE = 2;
export const SHAPE_DIM = 1;
export const DIM_VALUE = 1;
export const DIM_PARAM = 2;

// ONNX enums: AttributeProto.AttributeType, TensorProto.DataType, TensorProto.DataLocation.
export const ATTR_TYPE_INT = 2;
export const ATTR_TYPE_INTS = 7;
export const ONNX_FLOAT = 1;
export const ONNX_UINT8 = 2;
export const ONNX_INT8 = 3;
export const ONNX_INT32 = 6;
export const ONNX_INT64 = 7;
export const DATA_LOCATION_EXTERNAL = 1;
