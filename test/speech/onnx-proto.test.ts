import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GRAPH_INITIALIZER, MODEL_GRAPH, ONNX_FLOAT, ONNX_INT8, ONNX_UINT8, TENSOR_DATA_TYPE, TENSOR_FLOAT_DATA, TENSOR_INT32_DATA,
  TENSOR_NAME, TENSOR_RAW_DATA, WT_I32, WT_I64, WT_LEN, WT_VARINT,
  concat, float32LE, intField, lenField, parseMessage, readVarint, str, strField,
} from '../../src/speech/onnx-proto.js';
import { readScalarInitializers } from '../../src/speech/events/onnx-constants.js';

test('fields written by the writers read back: numbers, wire types, payloads, raw bytes', () => {
  const fixed32 = Uint8Array.from([5 * 8 + WT_I32, 0, 0, 0x80, 0x3f]); // field 5, 1.0f
  const fixed64 = Uint8Array.from([6 * 8 + WT_I64, 1, 2, 3, 4, 5, 6, 7, 8]);
  const msg = concat([intField(1, 300), strField(2, 'añb'), lenField(3, intField(1, 7)), fixed32, fixed64, intField(4, -1)]);
  const f = parseMessage(msg);
  assert.deepEqual(f.map((x) => [x.no, x.wt]), [[1, WT_VARINT], [2, WT_LEN], [3, WT_LEN], [5, WT_I32], [6, WT_I64], [4, WT_VARINT]]);
  assert.equal(f[0].value, 300);
  assert.equal(str(f[1]), 'añb');
  assert.equal(parseMessage(f[2].payload)[0].value, 7);
  assert.equal(float32LE(f[3].payload), 1);
  assert.deepEqual([...f[4].payload], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(f[5].value, 2 ** 64); // -1 as int64: ten bytes, beyond 2^53 only approximately
  assert.deepEqual(concat(f.map((x) => x.raw)), msg, 'raw bytes concatenate back to the message');
  assert.deepEqual(readVarint(Uint8Array.from([0xac, 0x02]), 0), [300, 2]);
});

test('truncated input and unknown wire types are errors', () => {
  assert.throws(() => parseMessage(Uint8Array.from([0x08])), /truncated varint/);
  assert.throws(() => parseMessage(Uint8Array.from([0x12, 0x05, 0x61])), /truncated field/);
  assert.throws(() => parseMessage(Uint8Array.from([0x0d, 0x00, 0x00])), /truncated field/);
  assert.throws(() => parseMessage(Uint8Array.from([0x0b])), /unsupported wire type 3/);
});

test('readScalarInitializers: float raw_data and float_data, uint8 packed int32_data, int8 raw_data', async () => {
  const tensor = (name: string, type: number, ...data: Uint8Array[]): Uint8Array =>
    lenField(GRAPH_INITIALIZER, concat([intField(TENSOR_DATA_TYPE, type), strField(TENSOR_NAME, name), ...data]));
  const f32 = (v: number): Uint8Array => new Uint8Array(Float32Array.of(v).buffer);
  const graph = concat([
    strField(1, 'unrelated node bytes'),
    tensor('raw_scale', ONNX_FLOAT, lenField(TENSOR_RAW_DATA, f32(0.25))),
    tensor('packed_scale', ONNX_FLOAT, lenField(TENSOR_FLOAT_DATA, concat([f32(1.5), f32(9)]))),
    tensor('zero_point', ONNX_UINT8, lenField(TENSOR_INT32_DATA, Uint8Array.from([0x90, 0x01]))), // 144
    tensor('signed', ONNX_INT8, lenField(TENSOR_RAW_DATA, Uint8Array.from([0xfe]))), // -2
    tensor('not_wanted', ONNX_FLOAT, lenField(TENSOR_RAW_DATA, f32(3))),
  ]);
  const model = concat([intField(1, 8), lenField(MODEL_GRAPH, graph)]);
  const dir = await mkdtemp(join(tmpdir(), 'sori-onnx-proto-'));
  try {
    const path = join(dir, 'model.onnx');
    await writeFile(path, model);
    const found = readScalarInitializers(path, ['raw_scale', 'packed_scale', 'zero_point', 'signed', 'missing']);
    assert.deepEqual(Object.fromEntries(found), { raw_scale: 0.25, packed_scale: 1.5, zero_point: 144, signed: -2 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
