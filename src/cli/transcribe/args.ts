/**
 * `sori transcribe`'s command line: the options, checked at the edge, and the CLOVA long-form
 * `params` they mean, validated by the same parser the server's routes use, so a value the
 * server would refuse is a usage error here before any work starts.
 */
import { basename, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { LongformError } from '../../clova/longform-errors.js';
import { parseLongformParams, type ResultFormat } from '../../clova/longform-params.js';
import { UsageError } from '../command-io.js';

export const OUTPUT_FORMATS = ['txt', 'srt', 'vtt', 'smi', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** CLOVA's `format` for each output: subtitles come from the result body's `subtitle`. */
const RESULT_FORMAT: Record<OutputFormat, ResultFormat> = { txt: 'JSON', json: 'JSON', srt: 'SRT', vtt: 'VTT', smi: 'SMI' };

export const TRANSCRIBE_HELP = `Usage: sori transcribe FILE... [options]

Transcribes audio or video files (anything ffmpeg reads) with the long-form pipeline: in this
process by default (no server needed), or on a Sori server with --server. Every file gets the
same result a POST /recognizer/upload with these options gives.

Options:
  -l, --lang <lang>         ko, en, ja, zh, enko, zh-tw, or CLOVA's ko-KR, en-US, ...
                            (default: the default domain's language, as long-form requests)
  -f, --format <format>     txt (one line per segment; "A: ..." with --diarize), srt, vtt, smi,
                            json (CLOVA's long-form result body)   (default: txt)
      --diarize             Label speakers (off unless asked, unlike the API's default)
      --speakers <n>        Exactly n speakers (implies --diarize)
      --min-speakers <n>    At least n speakers (implies --diarize)
      --max-speakers <n>    At most n speakers (implies --diarize)
  -o, --out <dir>           Write one file per input into <dir>, named after it
                            (talk.m4a -> talk.srt; a repeated name gets -2, -3, ...).
                            Without --out the results go to stdout; with several files each
                            is preceded by a line "==> FILE <==" and followed by a blank line.
      --server <url>        Send the files to this Sori server instead
                            (default: $SORI_SERVER); e.g. http://localhost:8080
      --key <secret>        The server's secret (default: $SORI_API_KEY; prefer the variable:
                            a command line is visible to other users of the machine)
      --local               Run in this process even if $SORI_SERVER is set
      --dir <dir>           Models folder for in-process runs (default: $SORI_MODELS_DIR,
                            else the config's models.dir, ./models)
  -h, --help                Show this help

In-process runs read the server's settings (sori.yaml, SORI_* variables: model, threads,
beam size, subtitle line length) and need no secret. Progress goes to stderr: a bar per file
with speed (x real time) and ETA on a terminal, plain lines otherwise. Ctrl-C stops cleanly
(in server mode it prints the tokens of jobs still running there); a second Ctrl-C exits at once.

Exit codes:
  0    every file transcribed
  1    some file failed (the others were still transcribed; each failure is on stderr)
  2    usage error (nothing was transcribed)
  130  interrupted (Ctrl-C)
`;

export interface ServerTarget {
  /** Without a trailing slash; may carry CLOVA's InvokeURL path prefix. */
  url: string;
  key: string;
}

export interface TranscribeArgs {
  help: boolean;
  /** As given on the command line (messages name them so). */
  files: string[];
  format: OutputFormat;
  /** The long-form `params` every file is sent with, in both modes (CLOVA's JSON). */
  params: Record<string, unknown>;
  /** Absolute. */
  outDir: string | undefined;
  server: ServerTarget | undefined;
  /** Absolute; in-process only. */
  modelsDir: string | undefined;
}

const ServerUrl = z.url({ protocol: /^https?$/ });
const Count = z.string().regex(/^\d+$/).transform(Number);

export function parseTranscribeArgs(argv: string[], env: NodeJS.ProcessEnv, cwd: string): TranscribeArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      lang: { type: 'string', short: 'l' },
      format: { type: 'string', short: 'f' },
      diarize: { type: 'boolean' },
      speakers: { type: 'string' },
      'min-speakers': { type: 'string' },
      'max-speakers': { type: 'string' },
      out: { type: 'string', short: 'o' },
      server: { type: 'string' },
      key: { type: 'string' },
      local: { type: 'boolean' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const format = outputFormat(values.format);
  const empty = { files: [], format, params: {}, outDir: undefined, server: undefined, modelsDir: undefined };
  if (values.help) return { help: true, ...empty };
  if (positionals.length === 0) throw new UsageError('transcribe needs at least one file');

  const exact = count('--speakers', values.speakers);
  if (exact !== undefined && (values['min-speakers'] !== undefined || values['max-speakers'] !== undefined)) {
    throw new UsageError('--speakers cannot be combined with --min-speakers or --max-speakers');
  }
  const min = exact ?? count('--min-speakers', values['min-speakers']);
  const max = exact ?? count('--max-speakers', values['max-speakers']);
  const diarize = values.diarize === true || min !== undefined || max !== undefined;
  const params: Record<string, unknown> = {
    ...(values.lang === undefined ? {} : { language: values.lang }),
    completion: 'async',
    diarization: { enable: diarize, speakerCountMin: min ?? -1, speakerCountMax: max ?? -1 },
    wordAlignment: true,
    fullText: true,
    format: RESULT_FORMAT[format],
  };
  checkParams(params);

  if (values.local && values.server !== undefined) throw new UsageError('--local and --server contradict each other');
  const server = values.local ? undefined : serverTarget(values.server, values.key, env);
  if (server !== undefined && values.dir !== undefined) throw new UsageError('--dir applies to in-process runs, not with --server');
  return {
    help: false,
    files: positionals,
    format,
    params,
    outDir: values.out === undefined ? undefined : resolve(cwd, values.out),
    server,
    modelsDir: values.dir === undefined ? undefined : resolve(cwd, values.dir),
  };
}

function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined) return 'txt';
  const format = OUTPUT_FORMATS.find((f) => f === value.toLowerCase());
  if (format === undefined) throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}, got "${value}"`);
  return format;
}

function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Count.safeParse(value);
  if (!parsed.success) throw new UsageError(`${flag} must be a whole number, got "${value}"`);
  return parsed.data;
}

/** The server's own checks (languages, speaker counts), with the option's name in the message. */
function checkParams(params: Record<string, unknown>): void {
  try {
    parseLongformParams(params, 'ko');
  } catch (err) {
    if (!(err instanceof LongformError)) throw err;
    const message = err.message
      .replace(/^language:/, '--lang:')
      .replace(/diarization\.speakerCountMin:/, '--min-speakers:')
      .replace(/diarization\.speakerCountMax:/, '--max-speakers:')
      .replace(/diarization: speakerCountMin is greater than speakerCountMax/, '--min-speakers is greater than --max-speakers');
    throw new UsageError(message);
  }
}

function serverTarget(flag: string | undefined, keyFlag: string | undefined, env: NodeJS.ProcessEnv): ServerTarget | undefined {
  const url = flag ?? (env.SORI_SERVER || undefined);
  if (url === undefined) {
    if (keyFlag !== undefined) throw new UsageError('--key needs --server (or SORI_SERVER)');
    return undefined;
  }
  if (!ServerUrl.safeParse(url).success) {
    throw new UsageError(`the server must be an http(s) URL, got "${url}"${flag === undefined ? ' from SORI_SERVER' : ''}`);
  }
  const key = keyFlag ?? (env.SORI_API_KEY || undefined);
  if (key === undefined) throw new UsageError('--server needs the secret: --key or SORI_API_KEY');
  return { url: url.replace(/\/+$/, ''), key };
}

const EXTENSION: Record<OutputFormat, string> = { txt: '.txt', srt: '.srt', vtt: '.vtt', smi: '.smi', json: '.json' };

/**
 * The output file name of each input: its base name with the format's extension
 * (talk.m4a -> talk.srt); a name already taken gets -2, -3, ... (a/talk.m4a, b/talk.m4a ->
 * talk.srt, talk-2.srt), in the order given.
 */
export function outputNames(files: readonly string[], format: OutputFormat): string[] {
  const taken = new Set<string>();
  return files.map((file) => {
    const base = basename(file);
    const ext = extname(base);
    const stem = (ext === '' || ext === base ? base : base.slice(0, -ext.length)) || 'output';
    let name = `${stem}${EXTENSION[format]}`;
    for (let n = 2; taken.has(name); n++) name = `${stem}-${n}${EXTENSION[format]}`;
    taken.add(name);
    return name;
  });
}
