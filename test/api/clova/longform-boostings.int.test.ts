/**
 * A domain's registered keyword set end to end: the real server, the real model (beam 5, as the
 * server's default) and real audio. The admin route registers the set; a long-form upload with
 * `useDomainBoostings` then has the word its plain decode missed. Clips and words were found with
 * `npm run bench:boosting` (plain beam 5: "자격증 투득을" for 자격증 취득을). An English case
 * (ps_cards_002, "Cloves" for clubs) was left out: with a six-word set the bias turned it into
 * "Clothes", which the phonetic match rightly does not take (th is not b).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../../helpers/server.js';

const KEY = 'boostings-secret';
const squash = (s: string): string => s.replace(/\s+/gu, '');

let engine: SpeechEngine;
let server: TestServer;
let dataDir: string;

before(async () => {
  engine = testEngine({ beamSize: 5 });
  dataDir = await mkdtemp(join(tmpdir(), 'sori-domain-boostings-'));
  const config = testConfig([testDomain('general', KEY)]);
  config.dataDir = dataDir;
  config.engine.beamSize = 5;
  server = await startServer(engine, [], { jobsConfig: config });
});

after(async () => {
  await server?.close();
  await engine?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

async function upload(clip: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const form = new FormData();
  form.append('media', new Blob([await readFile(join(testdataDir(), clip))]), clip.split('/').pop());
  form.append('params', JSON.stringify({ completion: 'sync', ...params }));
  const res = await fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form });
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.result, 'COMPLETED', JSON.stringify(body));
  return body;
}

async function register(keywords: string[]): Promise<void> {
  const res = await fetch(`${server.url}/admin/domains/general/boostings`, {
    method: 'PUT',
    headers: { 'X-CLOVASPEECH-API-KEY': KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ keywords }),
  });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { count: number }).count, keywords.length);
}

/** The words of every segment, joined: they must still spell the text after a correction. */
function wordsText(body: Record<string, unknown>): string {
  const segments = body.segments as { words: [number, number, string][] }[];
  return segments.flatMap((s) => s.words.map((w) => w[2])).join(' ');
}

describe('useDomainBoostings with a set registered through the admin route', () => {
  it('Korean: the registered word comes in, the unrelated ones stay out', async () => {
    const clip = 'ko/etts_nek00001.flac';
    const plain = await upload(clip, { language: 'ko-KR' });
    assert.ok(!squash(String(plain.text)).includes('취득'), `plain: ${String(plain.text)}`);

    const distractors = ['태풍', '토너먼트', '뉴욕', '한국어', '선거', '질량', '토성', '이민', '결선', '평균적'];
    await register([...distractors.slice(0, 5), '취득', ...distractors.slice(5)]);
    const boosted = await upload(clip, { language: 'ko-KR', useDomainBoostings: true });
    const text = squash(String(boosted.text));
    assert.ok(text.includes('취득'), `boosted: ${String(boosted.text)}`);
    assert.ok(text.includes('자격증'), 'the rest of the sentence is still there');
    for (const d of distractors) assert.ok(!text.includes(d), `${d} forced in: ${String(boosted.text)}`);
    assert.ok(squash(wordsText(boosted)).includes('취득'), 'words follow the text');
  });

});
