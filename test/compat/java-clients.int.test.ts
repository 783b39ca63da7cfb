/**
 * The compatibility suite's Java clients (test/compat/java, built by scripts/test-clients/java.sh)
 * against the real stage: NAVER's Java long-form sample shapes (Apache HttpClient 5
 * MultipartEntityBuilder with the media part typed multipart/form-data; java.net.http with params
 * as a params.json file part), url and object-storage bodies, status polling and a callback, the
 * short API over HttpURLConnection, and a grpc-java NestService client with `Authorization:
 * Bearer` metadata. The program checks its own expectations (params honoured, texts); the stage
 * checks every body against CLOVA's schemas; this file checks that every shape answered.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startStage, type ClientAnswer, type Stage } from './harness.js';

const JAR = join(fileURLToPath(new URL('.', import.meta.url)), 'java/target/sori-compat-java.jar');

let stage: Stage;

before(async () => {
  stage = await startStage();
});

after(async () => {
  await stage?.close();
});

function one(answers: ClientAnswer[], shape: string): ClientAnswer {
  const found = answers.filter((a) => a.shape === shape);
  assert.equal(found.length, 1, `one answer for ${shape}; got shapes: ${answers.map((a) => a.shape).join(', ')}`);
  return found[0];
}

describe('Java clients (Apache HttpClient 5, java.net.http, HttpURLConnection, grpc-java)', () => {
  it('every shape is answered as CLOVA would, with the request\'s params honoured', { timeout: 900_000 }, async () => {
    assert.ok(existsSync(JAR), `${JAR} is missing: run scripts/test-clients/java.sh (needs a JDK 17 and Maven)`);
    const answers = await stage.runClient('java', ['-cp', JAR, 'ClovaClients']);
    for (const a of answers) assert.equal(a.client, 'java');

    for (const shape of [
      'upload-sync:apache-MultipartEntityBuilder',
      'upload-sync:java.net.http-params-file-part',
      'url-sync:apache-json;UTF-8',
      'object-storage-sync:java.net.http-dataKey',
      'status-completed:apache-get',
    ]) {
      const a = one(answers, shape);
      assert.equal(a.status, 200, shape);
      assert.equal(a.schema, 'longformCompleted', shape);
      const body = a.body as { params: { lang: string; userdata: unknown }; text: string };
      assert.equal(body.params.lang, 'en', `${shape}: language en-US`);
      assert.equal(typeof body.params.userdata, 'string', `${shape}: userdata echoed as the string it was`);
      assert.match(body.text.toLowerCase(), /ask not/, shape);
    }

    const accepted = one(answers, 'upload-async-callback:apache-MultipartEntityBuilder');
    assert.equal(accepted.schema, 'longformAccepted');
    assert.match(String(accepted.callbackFor), /^[0-9a-f]{32}$/, 'the async answer names its token for the callback check');
    // Polling may or may not have caught the job before it finished; what it saw was pending.
    for (const p of answers.filter((a) => a.shape === 'status-pending:apache-get')) assert.equal(p.schema, 'longformPending');

    const short = one(answers, 'short-stt:HttpURLConnection-octet-stream');
    assert.equal(short.status, 200);
    assert.equal(short.schema, 'shortSuccess');
    assert.equal((short.body as { quota: number }).quota, 15, 'an 11 s clip is one 15 s unit');

    const grpc = one(answers, 'grpc-recognize:grpc-java-bearer');
    assert.equal(grpc.schema, null);
    const stream = grpc.body as { grpcStatus: string; responses: Array<Record<string, unknown>> };
    assert.equal(stream.grpcStatus, 'OK');
    assert.deepEqual(stream.responses[0].responseType, ['config']);
    const finals = stream.responses
      .map((r) => r.transcription as { epFlag?: boolean; text?: string } | undefined)
      .filter((t) => t?.epFlag === true);
    assert.ok(finals.length >= 1, 'at least one final');
    assert.match(finals.map((t) => t?.text).join(' ').toLowerCase(), /ask not/);

    const refused = one(answers, 'grpc-wrong-secret:grpc-java-bearer');
    assert.equal(refused.schema, null);
    assert.equal((refused.body as { grpcStatus: string }).grpcStatus, 'UNAUTHENTICATED');
    assert.equal(refused.status, 16);
  });
});
