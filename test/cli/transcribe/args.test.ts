import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseLongformParams } from '../../../src/clova/longform-params.js';
import { outputNames, parseTranscribeArgs } from '../../../src/cli/transcribe/args.js';
import { UsageError } from '../../../src/cli/command-io.js';

const CWD = '/home/user';
const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseTranscribeArgs(argv, env, CWD);

function usageError(argv: string[], message: RegExp, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(() => parse(argv, env), (err: unknown) => {
    // parseArgs's own errors (unknown option, missing value) are usage errors too: sori.ts maps their code to exit 2.
    const isUsage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_') === true;
    assert.ok(isUsage, `${argv.join(' ')}: ${String(err)}`);
    assert.match((err as Error).message, message);
    return true;
  });
}

describe('parseTranscribeArgs', () => {
  test('defaults: txt, in-process, no speakers, the server\'s default language', () => {
    const args = parse(['a.wav', 'dir/b.mp4']);
    assert.deepEqual(args.files, ['a.wav', 'dir/b.mp4']);
    assert.equal(args.format, 'txt');
    assert.equal(args.server, undefined);
    assert.equal(args.outDir, undefined);
    assert.deepEqual(args.params, {
      completion: 'async',
      diarization: { enable: false, speakerCountMin: -1, speakerCountMax: -1 },
      wordAlignment: true,
      fullText: true,
      format: 'JSON',
    });
    // No language: the long-form parser gives the domain's default, as for a request without one.
    assert.equal(parseLongformParams(args.params, 'en').language, 'en-US');
  });

  test('languages in both forms, checked by the server\'s own parser', () => {
    for (const [lang, expected] of [['ko', 'ko-KR'], ['en-US', 'en-US'], ['ja', 'ja'], ['zh', 'zh-cn'], ['zh-tw', 'zh-tw'], ['ENKO', 'enko']] as const) {
      const args = parse(['--lang', lang, 'a.wav']);
      assert.equal(parseLongformParams(args.params, 'ko').language, expected, lang);
    }
    usageError(['--lang', 'fr', 'a.wav'], /^--lang: expected one of ko-KR, en-US/);
  });

  test('formats map to CLOVA\'s format param; subtitles come in the result body', () => {
    assert.equal(parse(['-f', 'srt', 'a.wav']).params.format, 'SRT');
    assert.equal(parse(['--format', 'VTT', 'a.wav']).params.format, 'VTT');
    assert.equal(parse(['--format', 'smi', 'a.wav']).params.format, 'SMI');
    assert.equal(parse(['--format', 'json', 'a.wav']).params.format, 'JSON');
    usageError(['--format', 'docx', 'a.wav'], /--format must be one of txt, srt, vtt, smi, json/);
  });

  test('speaker counts imply --diarize and are bounded as the API bounds them', () => {
    assert.deepEqual(parse(['--diarize', 'a.wav']).params.diarization, { enable: true, speakerCountMin: -1, speakerCountMax: -1 });
    assert.deepEqual(parse(['--speakers', '3', 'a.wav']).params.diarization, { enable: true, speakerCountMin: 3, speakerCountMax: 3 });
    assert.deepEqual(parse(['--min-speakers', '2', 'a.wav']).params.diarization, { enable: true, speakerCountMin: 2, speakerCountMax: -1 });
    assert.deepEqual(parse(['--min-speakers', '2', '--max-speakers', '4', 'a.wav']).params.diarization, { enable: true, speakerCountMin: 2, speakerCountMax: 4 });
    usageError(['--speakers', 'two', 'a.wav'], /--speakers must be a whole number/);
    usageError(['--speakers', '-1', 'a.wav'], /--speakers/);
    usageError(['--speakers', '31', 'a.wav'], /--min-speakers: expected -1 \(auto\) or 1 to 30/);
    usageError(['--speakers', '2', '--max-speakers', '3', 'a.wav'], /cannot be combined/);
    usageError(['--min-speakers', '4', '--max-speakers', '2', 'a.wav'], /--min-speakers is greater than --max-speakers/);
  });

  test('--out and --dir are resolved against the working directory', () => {
    const args = parse(['--out', 'subs', '--dir', '../models', 'a.wav']);
    assert.equal(args.outDir, '/home/user/subs');
    assert.equal(args.modelsDir, '/home/models');
  });

  test('server mode: flag or SORI_SERVER, the secret from --key or SORI_API_KEY', () => {
    assert.deepEqual(parse(['--server', 'http://h:8080/', '--key', 'k1', 'a.wav']).server, { url: 'http://h:8080', key: 'k1' });
    assert.deepEqual(parse(['a.wav'], { SORI_SERVER: 'https://h/external/v1/1/abc', SORI_API_KEY: 'k2' }).server, { url: 'https://h/external/v1/1/abc', key: 'k2' });
    // The flag wins over the variable.
    assert.deepEqual(parse(['--key', 'k3', 'a.wav'], { SORI_SERVER: 'http://h', SORI_API_KEY: 'k2' }).server, { url: 'http://h', key: 'k3' });
    assert.equal(parse(['--local', 'a.wav'], { SORI_SERVER: 'http://h', SORI_API_KEY: 'k2' }).server, undefined);
    // SORI_API_KEY alone (the server's own variable) does not switch to server mode.
    assert.equal(parse(['a.wav'], { SORI_API_KEY: 'k2' }).server, undefined);
    usageError(['--server', 'ftp://h', '--key', 'k', 'a.wav'], /http\(s\) URL, got "ftp:\/\/h"$/);
    usageError(['a.wav'], /from SORI_SERVER/, { SORI_SERVER: 'nope', SORI_API_KEY: 'k' });
    usageError(['--server', 'http://h', 'a.wav'], /needs the secret: --key or SORI_API_KEY/);
    usageError(['--key', 'k', 'a.wav'], /--key needs --server/);
    usageError(['--server', 'http://h', '--key', 'k', '--dir', 'm', 'a.wav'], /--dir applies to in-process runs/);
    usageError(['--local', '--server', 'http://h', 'a.wav'], /contradict/);
  });

  test('no file, unknown options and missing values are usage errors; --help needs no file', () => {
    usageError([], /needs at least one file/);
    usageError(['--frobnicate', 'a.wav'], /Unknown option '--frobnicate'/);
    usageError(['a.wav', '--lang'], /--lang/);
    assert.equal(parse(['--help']).help, true);
  });
});

describe('outputNames', () => {
  test('the input\'s base name with the format\'s extension', () => {
    assert.deepEqual(outputNames(['talk.m4a', '/x/y/meeting.2024.wav', 'noext', '.hidden'], 'srt'), ['talk.srt', 'meeting.2024.srt', 'noext.srt', '.hidden.srt']);
  });

  test('a name already taken gets -2, -3, in the order given', () => {
    assert.deepEqual(outputNames(['a/talk.wav', 'b/talk.mp3', 'c/talk.flac', 'talk-2.ogg'], 'txt'), ['talk.txt', 'talk-2.txt', 'talk-3.txt', 'talk-2-2.txt']);
  });
});
