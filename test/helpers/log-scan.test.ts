/**
 * The final check of `npm test` (test/check-logs.ts) on run directories made here: it must
 * find a planted secret in whatever form a log line carries it, pass a clean run, and refuse
 * a run that wrote nothing to check.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { mask, recordedSecrets, scanLogs } from './log-scan.js';
import { tempDirs } from './temp-dirs.js';

const run = promisify(execFile);
const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const { fresh } = tempDirs('sori-log-scan-');

const SECRET = 'planted-secret-2c9f/+=';
const CLEAN = '{"level":30,"msg":"request done","url":"/recognizer/stream?key=[redacted]","statusCode":101}\n';

async function runDir(logs: Record<string, string>, secrets: string[] = [SECRET, 'short', 'another-secret-77']): Promise<string> {
  const dir = await fresh();
  await writeFile(join(dir, 'secrets-1.jsonl'), secrets.map((secret) => `${JSON.stringify({ source: 'domain', secret })}\n`).join(''));
  for (const [name, text] of Object.entries(logs)) await writeFile(join(dir, name), text);
  return dir;
}

async function check(dir: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/check-logs.ts', dir], { cwd: REPO });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, out: e.stderr };
  }
}

describe('log scan', () => {
  it('finds a planted secret as written, JSON-escaped or percent-encoded, and says where, masked', async () => {
    const dir = await runDir({
      'server-1-1.log': `${CLEAN}{"msg":"oops","key":"${SECRET}"}\n${CLEAN}`,
      'server-1-2.log': `${CLEAN}{"url":"/recog?key=${encodeURIComponent(SECRET)}"}\n`,
      'grpc-1-3.log': `${JSON.stringify({ headers: { authorization: `Bearer ${SECRET}` } })}\n`,
    });
    assert.equal(recordedSecrets(dir).length, 2, 'secrets too short to scan for are left out');
    const report = scanLogs(dir);
    assert.deepEqual(report.leaks.map((l) => [l.file, l.line]), [['grpc-1-3.log', 1], ['server-1-1.log', 2], ['server-1-2.log', 2]]);
    assert.ok(report.leaks.every((l) => l.secret === mask(SECRET) && !l.excerpt.includes(SECRET)), 'the report does not repeat the secret');
  });

  it('fails npm test\'s last step on a leak, passes a clean run, refuses a run with nothing to check', async () => {
    const leaky = await check(await runDir({ 'server-1-1.log': `${CLEAN}{"msg":"x","secret":"another-secret-77"}\n` }));
    assert.equal(leaky.code, 1);
    assert.match(leaky.out, /1 secret\(s\) found in the logs/);
    assert.match(leaky.out, /server-1-1\.log:2: domain secret ano\*+-77/);

    const clean = await check(await runDir({ 'server-1-1.log': CLEAN.repeat(3) }));
    assert.equal(clean.code, 0, clean.out);
    assert.match(clean.out, /no secret in 3 log lines in 1 files, 2 secrets/);

    assert.equal((await check(await runDir({}))).code, 1, 'no log files');
    assert.equal((await check(await runDir({ 'server-1-1.log': CLEAN }, []))).code, 1, 'no secrets');
  });
});
