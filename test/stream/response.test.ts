import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Transcript } from '../../src/speech/engine.js';
import { forbiddenMatcher } from '../../src/transcript/forbidden.js';
import {
  configResponse, recognizeError, responseText, sendsFinal, transcriptionResponse, type TranscriptionFields,
} from '../../src/stream/response.js';
import type { ConfigAck } from '../../src/clova/stream-config.js';

const mask = forbiddenMatcher(['damn']);

const transcript: Transcript = {
  text: ' I have a damn problem. Could you come?',
  language: 'en',
  durationS: 3,
  segments: [{
    start: 0, end: 3, text: 'I have a damn problem. Could you come?', avgLogProb: -0.2, noSpeechProb: 0.01,
    words: [
      { text: ' I', start: 0.1, end: 0.2, probability: 0.9 },
      { text: ' have', start: 0.2, end: 0.5, probability: 0.8 },
      { text: ' a', start: 0.5, end: 0.6, probability: 0.7 },
      { text: ' damn', start: 0.6, end: 0.9, probability: 0.6 },
      { text: ' problem.', start: 0.9, end: 1.4, probability: 0.5 },
      { text: ' ', start: 1.4, end: 1.4, probability: 0.1 },
      { text: ' Could', start: 1.6, end: 1.9, probability: 0.95 },
      { text: ' you', start: 1.9, end: 2.1, probability: 0.85 },
      { text: ' come?', start: 2.1, end: 2.5004, probability: 0.7555 },
    ],
  }],
};

const fields = (o: Partial<TranscriptionFields>): TranscriptionFields => ({
  uid: 'u1', text: 'I have a **** problem. Could you come?', startMs: 10_000, endMs: 13_000, final: true, epdType: 'gap',
  transcript, seqId: 7, position: 42, mask, ...o,
});

test('responseText: trimmed, Simplified for zh only, forbidden words masked', () => {
  assert.equal(responseText('  Oh damn it. ', 'en', mask), 'Oh **** it.');
  assert.equal(responseText(' 我們 ', 'zh', undefined), '我们');
  assert.equal(responseText(' 我們 ', 'ja', undefined), '我們');
  assert.equal(responseText('   ', 'en', mask), '');
});

test('sendsFinal: an empty final only for the client\'s end-point, and not with skipEmptyText', () => {
  assert.ok(sendsFinal('text', 'gap', true));
  assert.ok(sendsFinal('', 'endPoint', false));
  assert.ok(!sendsFinal('', 'endPoint', true));
  for (const epdType of ['gap', 'durationThreshold', 'period', 'syllableThreshold', 'unvoice'] as const) assert.ok(!sendsFinal('', epdType, false));
});

test('a final transcription: masked words in stream time, sentence ends at their words, timestamps from the words', () => {
  const r = transcriptionResponse(fields({})) as { uid: string; responseType: string[]; transcription: Record<string, unknown> };
  assert.equal(r.uid, 'u1');
  assert.deepEqual(r.responseType, ['transcription']);
  const t = r.transcription;
  assert.deepEqual(t.alignInfos, [
    { word: 'I', start: 10_100, end: 10_200, confidence: 0.9 },
    { word: 'have', start: 10_200, end: 10_500, confidence: 0.8 },
    { word: 'a', start: 10_500, end: 10_600, confidence: 0.7 },
    { word: '****', start: 10_600, end: 10_900, confidence: 0.6 },
    { word: 'problem.', start: 10_900, end: 11_400, confidence: 0.5 },
    { word: 'Could', start: 11_600, end: 11_900, confidence: 0.95 },
    { word: 'you', start: 11_900, end: 12_100, confidence: 0.85 },
    { word: 'come?', start: 12_100, end: 12_500, confidence: 0.756 },
  ]);
  assert.deepEqual(
    { ...t, alignInfos: undefined },
    {
      text: 'I have a **** problem. Could you come?', position: 42, periodPositions: [21, 37], periodAlignIndices: [4, 7],
      epFlag: true, seqId: 7, epdType: 'gap', startTimestamp: 10_100, endTimestamp: 12_500,
      // The words' mean confidence.
      confidence: 0.757, alignInfos: undefined,
    },
  );
});

test('a partial transcription: no words, the utterance\'s times, confidence from the segments\' log-probabilities', () => {
  const r = transcriptionResponse(fields({ final: false, epdType: '', text: 'I have a **** problem.' })) as { transcription: Record<string, unknown> };
  assert.deepEqual(r.transcription, {
    text: 'I have a **** problem.', position: 42, periodPositions: [21], periodAlignIndices: [], epFlag: false, seqId: 7,
    epdType: '', startTimestamp: 10_000, endTimestamp: 13_000, confidence: Math.round(Math.exp(-0.2) * 1000) / 1000, alignInfos: [],
  });
});

test('an empty final (epFlag without speech): no transcript, confidence 0', () => {
  const r = transcriptionResponse(fields({ text: '', epdType: 'endPoint', transcript: undefined })) as { transcription: Record<string, unknown> };
  assert.deepEqual(r.transcription, {
    text: '', position: 42, periodPositions: [], periodAlignIndices: [], epFlag: true, seqId: 7,
    epdType: 'endPoint', startTimestamp: 10_000, endTimestamp: 13_000, confidence: 0, alignInfos: [],
  });
});

test('config acknowledgement and recognize errors', () => {
  const ack = { status: 'Success' } as ConfigAck;
  assert.deepEqual(configResponse('u1', ack), { uid: 'u1', responseType: ['config'], config: ack });
  assert.deepEqual(recognizeError('u1', 'Invalid format', 'config is not valid JSON'), {
    uid: 'u1', responseType: ['recognize'], recognize: { status: 'Invalid format', message: 'config is not valid JSON' },
  });
  // No message key at all, not an undefined one.
  assert.deepEqual(Object.keys((recognizeError('u1', 'Internal error') as { recognize: object }).recognize), ['status']);
});
