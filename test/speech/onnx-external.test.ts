/**
 * A model's large initializers moved to a data file (src/speech/onnx-external.ts), on a tiny
 * model built here and run by the real ONNX Runtime: the same output as from the inline model,
 * the files written once per model version, older versions removed, nothing left on a full disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import {
  DATA_LOCATION_EXTERNAL, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT, MODEL_GRAPH, MODEL_OPSET_IMPORT, ONNX_FLOAT, OPSET_DOMAIN, OPSET_VERSION,
  TENSOR_DATA_LOCATION, TENSOR_RAW_DATA, concat, intField, lenField, parseMessage, strField,
} from '../../src/speech/onnx-proto.js';
import { nodeProto, rawInitializer, tensorDeclaration } from '../../src/speech/onnx-nodes.js';
import { externalizedModel, MIN_EXTERNAL_BYTES, splitInitializers } from '../../src/speech/onnx-external.js';
import { mountTmpfs } from '../helpers/tmpfs.js';

const N = 20_000; // 80 KB of float32: above MIN_EXTERNAL_BYTES
const IR_VERSION = 1;
const GRAPH_NAME = 2;

const floats = (values: number[] | Float32Array): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

/** y = (x + w) * s, w a large initializer (offset by `seed`), s a 4-byte one. */
function tinyModel(seed: number): { bytes: Uint8Array; w: Float32Array; s: number } {
  const w = Float32Array.from({ length: N }, (_, i) => Math.sin(i + seed));
  const s = 1.5;
  const graph = concat([
    nodeProto('Add', 'add', ['x', 'w'], ['t']),
    nodeProto('Mul', 'mul', ['t', 's'], ['y']),
    strField(GRAPH_NAME, 'tiny'),
    rawInitializer('w', ONNX_FLOAT, [N], floats(w)),
    rawInitializer('s', ONNX_FLOAT, [], floats([s])),
    tensorDeclaration(GRAPH_INPUT, 'x', ONNX_FLOAT, [N]),
    tensorDeclaration(GRAPH_OUTPUT, 'y', ONNX_FLOAT, [N]),
  ]);
  const bytes = concat([
    intField(IR_VERSION, 8),
    lenField(MODEL_OPSET_IMPORT, concat([strField(OPSET_DOMAIN, ''), intField(OPSET_VERSION, 17)])),
    lenField(MODEL_GRAPH, graph),
  ]);
  return { bytes, w, s };
}

async function run(session: ort.InferenceSession, x: Float32Array): Promise<Float32Array> {
  try {
    return (await session.run({ x: new ort.Tensor('float32', x, [N]) })).y.data as Float32Array;
  } finally {
    await session.release();
  }
}

test('the large initializer moves to an aligned data file, the small one stays, and ORT computes the same', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sori-onnx-external-'));
  try {
    const { bytes, w, s } = tinyModel(0);
    const out = externalizedModel(bytes, dir, 'tiny');
    assert.equal(out.tensors, 1);
    assert.equal(statSync(out.dataPath).size, N * 4, 'the first tensor starts at offset 0, nothing else is written');
    assert.ok(statSync(out.modelPath).size < 1000, 'the model file keeps no weights');
    const inits = parseMessage(parseMessage(readFileSync(out.modelPath)).find((f) => f.no === MODEL_GRAPH)!.payload)
      .filter((f) => f.no === GRAPH_INITIALIZER).map((f) => parseMessage(f.payload));
    assert.deepEqual(inits.map((t) => t.some((f) => f.no === TENSOR_DATA_LOCATION && f.value === DATA_LOCATION_EXTERNAL)), [true, false]);
    assert.deepEqual(inits.map((t) => t.some((f) => f.no === TENSOR_RAW_DATA)), [false, true]);

    const x = Float32Array.from({ length: N }, (_, i) => i / N);
    const fromFile = await run(await ort.InferenceSession.create(out.modelPath), x);
    const inline = await run(await ort.InferenceSession.create(bytes), x);
    assert.deepEqual(fromFile, inline);
    assert.equal(fromFile[123], Math.fround(Math.fround(x[123] + w[123]) * s));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tensors after the first start on 64 KiB boundaries', () => {
  const big = (name: string, n: number) => rawInitializer(name, ONNX_FLOAT, [n], new Uint8Array(n * 4).fill(1));
  const model = lenField(MODEL_GRAPH, concat([big('a', 17_000), big('b', 30_000)]));
  const { data, tensors } = splitInitializers(model, 'm.onnx_data');
  assert.equal(tensors, 2);
  assert.equal(data.size, 128 * 1024 + 30_000 * 4, 'b starts at the second 64 KiB boundary after a 68,000-byte a');
  assert.equal(MIN_EXTERNAL_BYTES, 64 * 1024);
});

test('one set of files per model version: reused as they are, older versions removed, bad input refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sori-onnx-external-'));
  try {
    const first = externalizedModel(tinyModel(0).bytes, dir, 'tiny');
    const written = statSync(first.dataPath).mtimeMs;
    writeFileSync(join(dir, 'other-0123456789abcdef.onnx'), 'another model: not ours to remove');
    const again = externalizedModel(tinyModel(0).bytes, dir, 'tiny');
    assert.deepEqual(again, first);
    assert.equal(statSync(first.dataPath).mtimeMs, written, 'not written twice');

    const next = externalizedModel(tinyModel(1).bytes, dir, 'tiny');
    assert.notEqual(next.modelPath, first.modelPath);
    assert.deepEqual(readdirSync(dir).sort(), ['other-0123456789abcdef.onnx', next.modelPath, next.dataPath].map((p) => p.split('/').pop()!).sort());

    assert.throws(() => externalizedModel(readFileSync(next.modelPath), dir, 'tiny'), /already has external data/);
    assert.throws(() => externalizedModel(tinyModel(0).bytes, dir, '../tiny'), /unsafe model name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const disk = await mountTmpfs(1);
test('a disk too small for the data file: an error, and no partial file left on it', { skip: typeof disk === 'string' ? disk : false }, async () => {
  if (typeof disk === 'string') return;
  try {
    const n = 600_000; // 2.4 MB of weights for a 1 MiB disk
    const model = lenField(MODEL_GRAPH, rawInitializer('w', ONNX_FLOAT, [n], new Uint8Array(n * 4).fill(7)));
    assert.throws(() => externalizedModel(model, disk.dir, 'big'), /ENOSPC/);
    assert.deepEqual(readdirSync(disk.dir), []);
  } finally {
    await disk.unmount();
  }
});
