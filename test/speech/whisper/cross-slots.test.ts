import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { CrossSlots } from '../../../src/speech/whisper/cross-slots.js';
import { GroupedRunner } from '../../../src/speech/whisper/grouped-runner.js';

const cross = (v: number): ort.Tensor[] => [0, 1].map((i) => new ort.Tensor('float32', new Float32Array(6).fill(v + i / 10), [1, 1, 3, 2]));
const values = (t: ort.Tensor): number[] => [...(t.data as Float32Array)];

test('CrossSlots holds what stackCross would build for its keys, through adds, deletes and growth', () => {
  const slots = new CrossSlots<string>(2);
  const all: Record<string, ort.Tensor[]> = { a: cross(1), b: cross(2), c: cross(3), d: cross(4) };
  const check = (): void => {
    const expected = GroupedRunner.stackCross(slots.keys.map((k) => all[k]));
    slots.tensors().forEach((t, i) => {
      assert.deepEqual(t.dims, expected[i].dims);
      assert.deepEqual(values(t), values(expected[i]));
    });
  };
  slots.add('a', all.a);
  slots.add('b', all.b);
  check();
  slots.add('c', all.c); // grows past 2
  check();
  slots.delete('a'); // c moves into slot 0
  assert.deepEqual(slots.keys, ['c', 'b']);
  check();
  slots.add('d', all.d);
  slots.delete('d'); // the last one: nothing moves
  assert.deepEqual(slots.keys, ['c', 'b']);
  check();
  assert.equal(slots.tensors()[0].dims[0], 2);
  assert.throws(() => slots.add('b', all.b), /already/);
  assert.throws(() => slots.add('e', [new ort.Tensor('float32', new Float32Array(8), [1, 1, 4, 2]), all.a[1]]), /same T/);
});
