/**
 * Pronunciation assessment on POST /recog/v1/stt (issue 16) end to end: real engine, phoneme
 * recogniser, G2P, TTS voices and recordings, real HTTP on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { ffmpeg, testdataDir } from '../../helpers/media-fixtures.js';
import { postStt, startServer, testDomain, testEngine, type SttAnswer, type TestServer } from '../../helpers/server.js';
import { SCHEMAS } from '../../compat/clova-schemas.js';

const KEY = 'assessment-secret-5e2a';
const JFK = path.join(testdataDir(), 'en/jfk.flac');
const JFK_TEXT = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
const KOREAN = path.join(testdataDir(), 'ko/sensevoice_ko.flac');
const KOREAN_TEXT = '조금만 생각을 하면서 살면 훨씬 편할 거야.';

interface Assessed {
  text: string;
  quota: number;
  assessment_score: number;
  assessment_details: string;
  ref_graph?: number[];
  usr_graph?: number[];
}

let engine: SpeechEngine;
let server: TestServer;
let tmp: string;
let jfk: Buffer;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sori-assessment-test-'));
  engine = testEngine();
  await engine.ready();
  server = await startServer(engine, [testDomain('general', KEY)]);
  jfk = await readFile(JFK);
});

after(async () => {
  await server?.close();
  await engine?.close();
  await rm(tmp, { recursive: true, force: true });
});

const stt = (body: Uint8Array, query: string): Promise<SttAnswer> => postStt(server.url, body, { key: KEY, query });

function assessed(answer: SttAnswer): Assessed {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const body = answer.body as Assessed;
  assert.match(body.assessment_details, new RegExp(SCHEMAS.shortSuccess.properties.assessment_details.pattern));
  assert.ok(Number.isInteger(body.assessment_score) && body.assessment_score >= 0 && body.assessment_score <= 100);
  return body;
}

/** `word|{chunk(phonemes):score, ...} ` entries -> word, chunk scores. */
function words(details: string): { word: string; scores: number[] }[] {
  return [...details.matchAll(/([^|{} ]+)\|\{([^{}]*)\} /gu)].map((m) => ({
    word: m[1],
    scores: [...m[2].matchAll(/\):(\d+)/gu)].map((s) => Number(s[1])),
  }));
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('POST /recog/v1/stt?assessment=true: English', () => {
  it('scores a clip read as its text high, every word of the target in order with IPA chunks', async () => {
    const body = assessed(await stt(jfk, `lang=Eng&assessment=true&utterance=${encodeURIComponent(JFK_TEXT)}`));
    assert.ok(body.assessment_score >= 70, `score ${body.assessment_score}`);
    const got = words(body.assessment_details);
    assert.deepEqual(got.map((w) => w.word), JFK_TEXT.toLowerCase().replace(/[,.]/g, '').split(' '));
    assert.match(body.assessment_details, /^and\|\{a\(æ\):\d+, n\(n\):\d+, d\(d\):\d+\} so\|/u);
    assert.equal(body.ref_graph, undefined);
    assert.equal(body.usr_graph, undefined);
  });

  it('a word the speaker did not say scores lowest, and pulls the utterance down', async () => {
    const right = assessed(await stt(jfk, `lang=Eng&assessment=true&utterance=${encodeURIComponent(JFK_TEXT)}`));
    const wrong = assessed(await stt(jfk, `lang=Eng&assessment=true&utterance=${encodeURIComponent(JFK_TEXT.replace('Americans', 'Germans'))}`));
    const scored = words(wrong.assessment_details).map((w) => ({ word: w.word, score: mean(w.scores) }));
    const lowest = scored.reduce((a, b) => (b.score < a.score ? b : a));
    assert.equal(lowest.word, 'germans', JSON.stringify(scored));
    assert.ok(wrong.assessment_score < right.assessment_score);
  });

  it('without utterance assesses what was recognised', async () => {
    const body = assessed(await stt(jfk, 'lang=Eng&assessment=true'));
    assert.ok(words(body.assessment_details).some((w) => w.word === 'americans'));
    assert.ok(body.assessment_score >= 70, `score ${body.assessment_score}`);
  });

  it('another text read over the clip scores low', async () => {
    const body = assessed(await stt(jfk, `lang=Eng&assessment=true&utterance=${encodeURIComponent('The quick brown fox jumps over the lazy dog near the river bank today.')}`));
    assert.ok(body.assessment_score < 40, `score ${body.assessment_score}`);
  });

  it('silence read as a sentence scores near 0', async () => {
    const file = path.join(tmp, 'silence.flac');
    await ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '3', '-c:a', 'flac', file]);
    const body = assessed(await stt(await readFile(file), 'lang=Eng&assessment=true&utterance=go%20forward%20ten%20meters&graph=true'));
    assert.ok(body.assessment_score < 20, `score ${body.assessment_score}`);
    assert.ok(body.ref_graph?.every((v) => v === 0), `no user speech, nothing to align the reference to: ${JSON.stringify(body.ref_graph)}`);
  });

  it('graph=true: ref_graph and usr_graph, same length, non-negative integers, the reference silent where the user is', async () => {
    const body = assessed(await stt(jfk, `lang=Eng&assessment=true&graph=true&utterance=${encodeURIComponent(JFK_TEXT)}`));
    const { ref_graph: ref, usr_graph: usr } = body;
    assert.ok(ref && usr);
    assert.equal(ref.length, usr.length);
    assert.equal(usr.length, Math.ceil(11 * 50));
    for (const g of [ref, usr]) assert.ok(g.every((v) => Number.isInteger(v) && v >= 0));
    assert.ok(ref.filter((v) => v > 0).length > ref.length / 3, 'the reference has speech');
    assert.equal(ref[0], 0, 'the reference starts silent, with the user');
    // One text, one graph: the reference voice has no sampling noise.
    const again = assessed(await stt(jfk, `lang=Eng&assessment=true&graph=true&utterance=${encodeURIComponent(JFK_TEXT)}`));
    assert.deepEqual(again.ref_graph, ref);
  });
});

describe('POST /recog/v1/stt?assessment=true: Korean (Sori\'s addition)', () => {
  let korean: Buffer;
  before(async () => {
    korean = await readFile(KOREAN);
  });

  it('scores the clip read as its text high; chunks are syllables with their standard pronunciation', async () => {
    const body = assessed(await stt(korean, `lang=Kor&assessment=true&utterance=${encodeURIComponent(KOREAN_TEXT)}`));
    assert.ok(body.assessment_score >= 70, `score ${body.assessment_score}`);
    assert.deepEqual(words(body.assessment_details).map((w) => w.word), ['조금만', '생각을', '하면서', '살면', '훨씬', '편할', '거야']);
    assert.match(body.assessment_details, / 생각을\|\{생\(seŋ\):\d+, 각\(ka\):\d+, 을\(kɯl\):\d+\} /u);
  });

  it('a word the speaker did not say scores lowest, and pulls the utterance down', async () => {
    const right = assessed(await stt(korean, `lang=Kor&assessment=true&utterance=${encodeURIComponent(KOREAN_TEXT)}`));
    const wrong = assessed(await stt(korean, `lang=Kor&assessment=true&utterance=${encodeURIComponent(KOREAN_TEXT.replace('생각을', '국물을'))}`));
    const scored = words(wrong.assessment_details).map((w) => ({ word: w.word, score: Math.min(...w.scores) }));
    const lowest = scored.reduce((a, b) => (b.score < a.score ? b : a));
    assert.equal(lowest.word, '국물을', JSON.stringify(scored));
    assert.ok(wrong.assessment_score < right.assessment_score);
  });

  it('without utterance assesses what was recognised; graph=true gives ref_graph (espeak-ng) of usr_graph\'s length', async () => {
    const body = assessed(await stt(korean, 'lang=Kor&assessment=true&graph=true'));
    assert.ok(body.assessment_score >= 70, `score ${body.assessment_score}`);
    assert.ok(body.ref_graph && body.usr_graph && body.ref_graph.length === body.usr_graph.length);
    assert.ok(body.ref_graph.some((v) => v > 0));
  });

  it('400 for a Korean utterance (under 500 characters) longer than the decoder takes for one window', async () => {
    // Rare syllables take two or three byte-level tokens each: far more than one window takes.
    const long = '뷁쀍똠 '.repeat(120).slice(0, 480);
    const answer = await stt(korean, `lang=Kor&assessment=true&utterance=${encodeURIComponent(long)}`);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.deepEqual((answer.body as { error: unknown }).error, { errorCode: '400', message: 'Invalid request parameters' });
  });

  it('400 for Korean audio over one 30 s window', async () => {
    const file = path.join(tmp, 'korean-31s.flac');
    await ffmpeg(['-i', KOREAN, '-af', 'apad=whole_dur=31', '-c:a', 'flac', file]);
    const answer = await stt(await readFile(file), `lang=Kor&assessment=true&utterance=${encodeURIComponent(KOREAN_TEXT)}`);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
  });
});

describe('POST /recog/v1/stt?assessment=true: bad utterances and languages', () => {
  const error = (answer: SttAnswer) => {
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.deepEqual((answer.body as { error: unknown }).error, { errorCode: '400', message: 'Invalid request parameters' });
  };

  it('400 for an empty, over-long or wordless utterance', async () => {
    error(await stt(jfk, 'lang=Eng&assessment=true&utterance='));
    error(await stt(jfk, `lang=Eng&assessment=true&utterance=${'word '.repeat(101)}`));
    error(await stt(jfk, `lang=Eng&assessment=true&utterance=${encodeURIComponent('안녕하세요')}`));
    error(await stt(jfk, `lang=Kor&assessment=true&utterance=hello`));
    error(await stt(jfk, 'lang=Eng&assessment=true&utterance=%3F%21'));
  });

  it('Japanese and Chinese ignore assessment, as CLOVA does', async () => {
    const answer = await stt(jfk, 'lang=Jpn&assessment=true&utterance=&graph=true');
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body as object).sort(), ['quota', 'text', 'usr_graph']);
  });
});
