/**
 * Reads a few scalar initializers (quantisation scales and zero points) out of an ONNX file.
 * onnxruntime does not expose initializers, and taking the numbers from the graph rather than
 * from documentation keeps the front end right if the model is re-exported or re-calibrated.
 * A walk over ModelProto → GraphProto → TensorProto with the wire-format reader of
 * ../onnx-proto.ts, nothing more.
 */
import { openSync, readSync, closeSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  GRAPH_INITIALIZER, MODEL_GRAPH, ONNX_FLOAT, ONNX_INT8, ONNX_UINT8, STRING_ENTRY_KEY, STRING_ENTRY_VALUE, TENSOR_DATA_TYPE,
  TENSOR_EXTERNAL_DATA, TENSOR_FLOAT_DATA, TENSOR_INT32_DATA, TENSOR_NAME, TENSOR_RAW_DATA, WT_LEN, WT_VARINT,
  float32LE, parseMessage, readVarint, str,
} from '../onnx-proto.js';

/**
 * The first element of each named scalar initializer, as a number (float, uint8 or int8 tensors).
 * Missing names are absent from the result; the caller decides whether that is fatal.
 */
export function readScalarInitializers(modelPath: string, names: readonly string[]): Map<string, number> {
  const buf = readFileSync(modelPath);
  const wanted = new Set(names);
  const found = new Map<string, number>();
  for (const m of parseMessage(buf)) {
    if (m.no !== MODEL_GRAPH || m.wt !== WT_LEN) continue;
    for (const g of parseMessage(m.payload)) {
      if (g.no !== GRAPH_INITIALIZER || g.wt !== WT_LEN) continue;
      let name = '';
      let type = 0;
      let raw: Uint8Array | undefined;
      let firstFloat: number | undefined;
      let firstInt: number | undefined;
      const external = new Map<string, string>();
      for (const t of parseMessage(g.payload)) {
        if (t.no === TENSOR_NAME) name = str(t);
        else if (t.no === TENSOR_DATA_TYPE) type = t.value;
        else if (t.no === TENSOR_RAW_DATA) raw = t.payload;
        else if (t.no === TENSOR_FLOAT_DATA && firstFloat === undefined) {
          // Packed (LEN) or a single fixed32: either way the first 4 bytes are element 0.
          if (t.payload.length >= 4) firstFloat = float32LE(t.payload);
        } else if (t.no === TENSOR_INT32_DATA && firstInt === undefined) {
          // uint8/int8 values live in int32_data, as varints: a lone one, or packed.
          firstInt = t.wt === WT_VARINT ? t.value : firstPackedVarint(t.payload);
        } else if (t.no === TENSOR_EXTERNAL_DATA) {
          let k = '';
          let v = '';
          for (const e of parseMessage(t.payload)) {
            if (e.no === STRING_ENTRY_KEY) k = str(e);
            else if (e.no === STRING_ENTRY_VALUE) v = str(e);
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

/** The first varint of a packed field, or undefined if there is none (empty or truncated). */
function firstPackedVarint(payload: Uint8Array): number | undefined {
  try {
    return readVarint(payload, 0)[0];
  } catch {
    return undefined;
  }
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
    if (raw && raw.length >= 4) return float32LE(raw);
    return f;
  }
  if (type === ONNX_UINT8) return raw && raw.length >= 1 ? raw[0] : i;
  if (type === ONNX_INT8) return raw && raw.length >= 1 ? (raw[0] << 24) >> 24 : i;
  return undefined;
}
