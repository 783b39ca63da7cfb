import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLongformParams } from '../../../src/clova/longform-params.js';
import { completedResult } from '../../../src/jobs/result.js';
import { renderResult } from '../../../src/cli/transcribe/render.js';
import type { LongformSegment } from '../../../src/transcript/segments.js';

const segments: LongformSegment[] = [
  { start: 0, end: 1500, text: ' Hello there. ', confidence: 0.9, words: [[0, 700, 'Hello'], [700, 1500, 'there.']], speaker: '1' },
  { start: 1600, end: 2600, text: 'Hi.', confidence: 0.8, words: [[1600, 2600, 'Hi.']], speaker: '2' },
  { start: 2700, end: 2800, text: ' ', confidence: 0.1, words: [], speaker: '2' },
];

function result(params: Record<string, unknown>) {
  return completedResult({ token: 't', domain: 'general', params: parseLongformParams(params, 'en'), version: 'test' }, segments);
}

test('txt: one line per segment, blank ones left out; with speakers each line starts with the name', () => {
  assert.equal(renderResult(result({ diarization: { enable: false } }), 'txt'), 'Hello there.\nHi.\n');
  assert.equal(renderResult(result({ diarization: { enable: true } }), 'txt'), 'A: Hello there.\nB: Hi.\n');
});

test('subtitles are the body\'s own subtitle (the pipeline wrote it for the format asked)', () => {
  const srt = renderResult(result({ format: 'SRT', diarization: { enable: false } }), 'srt');
  assert.match(srt, /^1\n00:00:00,000 --> 00:00:01,500\nHello there\.\n/);
  assert.ok(srt.endsWith('\n'));
  assert.match(renderResult(result({ format: 'VTT' }), 'vtt'), /^WEBVTT/);
  assert.throws(() => renderResult(result({ format: 'JSON' }), 'smi'), /no SMI subtitle/);
});

test('json: CLOVA\'s result body as it is', () => {
  const body = result({ diarization: { enable: true } });
  assert.deepEqual(JSON.parse(renderResult(body, 'json')), JSON.parse(JSON.stringify(body)));
});
