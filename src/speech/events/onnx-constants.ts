/**
 * Reads a few scalar initializers (quantisation scales and zero points) out of an ONNX file.
 * onnxruntime does not expose initializers, and taking the numbers from the graph rather than
 * from documentation keeps the front end right if the model is re-exported or re-calibrated.
 * A minimal protobuf walk over ModelProto → GraphProto → TensorProto, nothing more.
 */
import { openSync, readSync, closeSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

interface Field {
  no: number;
  wire: number;
  /** Varint value (wire 0), or offsets of the payload (wire 1, 2, 5). */
  value: bigint;
  start: number;
  end: number;
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let pos = start;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= end) throw new Error('truncated protobuf varint');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < end) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === WIRE_VARINT) {
      yield { no, wire, value: varint(), start: pos, end: pos };
    } else if (wire === WIRE_LEN) {
      const len = Number(varint());
      if (pos + len > end) throw new Error('truncated protobuf field');
      yield { no, wire, value: 0n, start: pos, end: pos + len };
      pos += len;
    } else if (wire === WIRE_I64 || wire === WIRE_I32) {
      const len = wire === WIRE_I64 ? 8 : 4;
      yield { no, wire, value: 0n, start: pos, end: pos + len };
      pos += len;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

const TENSOR_DATA_TYPE = 2;
const TENSOR_FLOAT_DATA = 4;
const TENSOR_INT32_DATA = 5;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const ONNX_FLOAT = 1;
const ONNX_UINT8 = 2;
const ONNX_INT8 = 3;

/**
 * The first element of each named scalar initializer, as a number (float, uint8 or int8 tensors).
 * Missing names are absent from the result; the caller decides whether that is fatal.
 */
export function readScalarInitializers(modelPath: string, names: readonly string[]): Map<string, number> {
  const buf = readFileSync(modelPath);
  const wanted = new Set(names);
  const found = new Map<string, number>();
  const text = (f: Field): string => buf.toString('utf8', f.start, f.end);
  for (const m of fields(buf, 0, buf.length)) {
    if (m.no !== MODEL_GRAPH || m.wire !== WIRE_LEN) continue;
    for (const g of fields(buf, m.start, m.end)) {
      if (g.no !== GRAPH_INITIALIZER || g.wire !== WIRE_LEN) continue;
      let name = '';
      let type = 0;
      let raw: Uint8Array | undefined;
      let firstFloat: number | undefined;
      let firstInt: number | undefined;
      const external = new Map<string, string>();
      for (const t of fields(buf, g.start, g.end)) {
        if (t.no === TENSOR_NAME) name = text(t);
        else if (t.no === TENSOR_DATA_TYPE) type = Number(t.value);
        else if (t.no === TENSOR_RAW_DATA) raw = buf.subarray(t.start, t.end);
        else if (t.no === TENSOR_FLOAT_DATA && firstFloat === undefined) {
          // Packed (LEN) or a single fixed32: either way the first 4 bytes are element 0.
          if (t.end - t.start >= 4) firstFloat = buf.readFloatLE(t.start);
        } else if (t.no === TENSOR_INT32_DATA && firstInt === undefined) {
          // uint8/int8 values live in int32_data, as varints: a lone one, or packed.
          firstInt = t.wire === WIRE_VARINT ? Number(t.value) : firstPackedVarint(buf, t.start, t.end);
        } else if (t.no === TENSOR_EXTERNAL_DATA) {
          let k = '';
          let v = '';
          for (const e of fields(buf, t.start, t.end)) {
            if (e.no === 1) k = text(e);
            else if (e.no === 2) v = text(e);
          }
          external.set(k, v);
        }
      }
      if (!wanted.has(name)) continue;
      if (!raw && external.has('location')) raw = readExternal(join(dirname(modelPath), external.get('location') ?? ''), external);
      const v = decodeFirst(type, raw, firstFloat, firstInt);
      if (v !== undefined) found.set(name, v);
    }
  }
  return found;
}

function firstPackedVarint(buf: Uint8Array, start: number, end: number): number | undefined {
  let result = 0;
  let mul = 1;
  for (let pos = start; pos < end; pos++) {
    result += (buf[pos] & 0x7f) * mul;
    if ((buf[pos] & 0x80) === 0) return result;
    mul *= 128;
  }
  return undefined;
}

function readExternal(path: string, info: Map<string, string>): Uint8Array {
  const offset = Number(info.get('offset') ?? 0);
  const length = Math.min(Number(info.get('length') ?? 4), 8);
  const out = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, out, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return out;
}

function decodeFirst(type: number, raw: Uint8Array | undefined, f: number | undefined, i: number | undefined): number | undefined {
  if (type === ONNX_FLOAT) {
    if (raw && raw.length >= 4) return Buffer.from(raw.buffer, raw.byteOffset, 4).readFloatLE(0);
    return f;
  }
  if (type === ONNX_UINT8) return raw && raw.length >= 1 ? raw[0] : i;
  if (type === ONNX_INT8) return raw && raw.length >= 1 ? (raw[0] << 24) >> 24 : i;
  return undefined;
}
