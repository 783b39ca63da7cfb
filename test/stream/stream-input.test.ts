import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExtraContents, PcmInput, skipWavHeader } from '../../src/stream/stream-input.js';
import { VAD_WINDOW } from '../../src/speech/vad/silero.js';

function pcm16(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeInt16LE(v, i * 2));
  return b;
}

test('PcmInput: samples across odd-sized chunks, whole windows only until a flush', () => {
  const input = new PcmInput();
  const bytes = pcm16(Array.from({ length: VAD_WINDOW + 100 }, (_, i) => i * 10));
  // Split inside a sample: the odd byte waits for the next chunk.
  input.push(bytes.subarray(0, 301));
  input.push(bytes.subarray(301));
  assert.equal(input.buffered, VAD_WINDOW + 100);
  const windows = [...input.windows(false)].map((w) => Array.from(w));
  assert.equal(windows.length, 1);
  assert.equal(windows[0][150], 1500 / 32768);
  assert.equal(input.buffered, 100);
  const rest = [...input.windows(true)];
  assert.deepEqual(rest.map((w) => w.length), [100]);
  assert.equal(rest[0][0], (VAD_WINDOW * 10) / 32768);
  assert.equal(input.buffered, 0);
});

test('PcmInput: a loop over the windows ended early leaves them buffered', () => {
  const input = new PcmInput();
  input.push(pcm16(new Array(VAD_WINDOW * 2).fill(1)));
  for (const _ of input.windows(false)) break;
  assert.equal(input.buffered, VAD_WINDOW * 2);
});

test('PcmInput: a WAV header on the first chunk only is skipped', () => {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.write('data', 36);
  const input = new PcmInput();
  input.push(Buffer.concat([header, pcm16([7, 8])]));
  assert.equal(input.buffered, 2);
  assert.equal(skipWavHeader(pcm16([1, 2, 3])).length, 6);
  input.push(header);
  assert.equal(input.buffered, 24, 'later chunks are all samples');
});

test('parseExtraContents: seqId and epFlag ("true" too); anything else is no end-point', () => {
  assert.deepEqual(parseExtraContents('{"seqId": 3, "epFlag": true}'), { seqId: 3, epFlag: true });
  assert.deepEqual(parseExtraContents('{"epFlag": "true"}'), { seqId: undefined, epFlag: true });
  assert.deepEqual(parseExtraContents('{"seqId": "3"}'), { seqId: undefined, epFlag: false });
  for (const extra of [undefined, '', '  ', 'not json']) assert.deepEqual(parseExtraContents(extra), { epFlag: false });
});
