/**
 * More labelled meeting audio for the diarization eval (issue 17), fetched from the package
 * registry the way a fresh machine can (`pip download`, nothing else), converted to 16 kHz mono
 * FLAC + RTTM under `.bench/diarization-data/` (git-ignored) with a `manifest.jsonl` in the
 * shared testdata's format. Nothing is copied into the repository.
 *
 *   node --import tsx bench/fetch-diarization-data.ts [--out .bench/diarization-data] [--force]
 *
 * Sources:
 * - `pyannote-audio==4.0.7` (sdist), `tests/data/`: 30 s AMI Meeting Corpus excerpts with their
 *   manual RTTM (`debug.{train,development,test}.rttm`), 1-4 speakers, overlap present.
 *   CC BY 4.0 (AMI); pyannote.audio MIT. dev01 and tst00 are left out: the shared testdata has
 *   them.
 * - `speakerbox==1.2.0` (wheel), `speakerbox/tests/data/diarized.zip`: single-speaker clips of
 *   five Seattle City Council meetings (folder = speaker, file name = start-end in ms). The
 *   clips of a meeting are joined in time order with 0.3 s of silence between them into one
 *   "meeting" of 3-4.5 minutes and 6-9 speakers: real meeting voices and turns, but no overlap
 *   and artificial gaps. speakerbox is MIT; the audio's own redistribution terms are not stated,
 *   so it stays a local test input.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeFile } from '../src/media/decode.js';
import { SAMPLE_RATE } from '../src/audio.js';
import { DIARIZATION_DATA_DIR, loadDiarizationData, type FetchedEntry } from './lib/labelled.js';
import { log } from './lib/progress.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const PYANNOTE = 'pyannote-audio==4.0.7';
const SPEAKERBOX = 'speakerbox==1.2.0';
const SKIP_AMI = new Set(['dev01', 'tst00']);
const GAP_S = 0.3;

type Entry = FetchedEntry;

function pipDownload(spec: string, dir: string, sdist: boolean): string {
  const args = ['-m', 'pip', 'download', '--no-deps', '-q', '-d', dir, ...(sdist ? ['--no-binary', ':all:'] : []), spec];
  execFileSync('python3', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const files = readdirSync(dir);
  if (files.length !== 1) throw new Error(`pip download ${spec}: expected one file, got ${files.join(', ')}`);
  return join(dir, files[0]);
}

/** Python's own zip CLI: no unzip binary needed. */
function unzip(zip: string, into: string): void {
  execFileSync('python3', ['-m', 'zipfile', '-e', zip, into]);
}

/** float PCM at 16 kHz -> FLAC (16-bit) through ffmpeg. */
function writeFlac(pcm: Float32Array, dest: string): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'f32le', '-ar', String(SAMPLE_RATE), '-ac', '1', '-i', 'pipe:0', '-c:a', 'flac', '-sample_fmt', 's16', dest], {
    input: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength),
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`ffmpeg could not write ${dest}: ${r.stderr.toString()}`);
}

function rttmLine(uri: string, start: number, duration: number, speaker: string): string {
  return `SPEAKER ${uri} 1 ${start.toFixed(3)} ${duration.toFixed(3)} <NA> <NA> ${speaker} <NA> <NA>`;
}

async function pyannoteAmi(out: string, work: string): Promise<Entry[]> {
  const sdist = pipDownload(PYANNOTE, join(work, 'pyannote'), true);
  const root = 'pyannote_audio-4.0.7/tests/data';
  execFileSync('tar', ['-xzf', sdist, '-C', work, root]);
  const dataDir = join(work, root);
  const turns = new Map<string, string[]>();
  for (const part of ['train', 'development', 'test']) {
    for (const line of readFileSync(join(dataDir, `debug.${part}.rttm`), 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || f[0] !== 'SPEAKER') continue;
      turns.set(f[1], [...(turns.get(f[1]) ?? []), line.trim()]);
    }
  }
  const entries: Entry[] = [];
  for (const uri of [...turns.keys()].sort()) {
    if (SKIP_AMI.has(uri)) continue;
    // One file name in the sdist carries a non-ASCII letter (trñ00.wav for trn00).
    const wav = readdirSync(dataDir).find((n) => n.endsWith('.wav') && n.normalize('NFD').replace(/\p{M}/gu, '') === `${uri}.wav`);
    if (wav === undefined) throw new Error(`${PYANNOTE}: no audio for ${uri}`);
    const { pcm, durationS } = await decodeFile(join(dataDir, wav));
    const id = `ami_${uri}`;
    const dest = join(out, 'pyannote_ami', `${id}.flac`);
    mkdirSync(join(out, 'pyannote_ami'), { recursive: true });
    writeFlac(pcm, dest);
    const lines = (turns.get(uri) ?? []).map((l) => {
      const f = l.split(/\s+/);
      return rttmLine(id, Number(f[3]), Number(f[4]), f[7]);
    });
    writeFileSync(dest.replace(/\.flac$/, '.rttm'), lines.join('\n') + '\n');
    entries.push({
      file: relative(out, dest), lang: 'en', duration_s: Math.round(durationS * 1000) / 1000, rttm: relative(out, dest.replace(/\.flac$/, '.rttm')),
      speakers: [...new Set(lines.map((l) => l.split(/\s+/)[7]))].sort(), tags: ['diarization', 'meeting', 'ami'],
      source: `pypi:${PYANNOTE} (sdist):${root}/${wav}`, license: 'CC BY 4.0 (AMI Meeting Corpus); pyannote.audio MIT',
    });
    log(`${id}: ${durationS.toFixed(1)} s, ${lines.length} turns`);
  }
  return entries;
}

async function speakerboxCouncil(out: string, work: string): Promise<Entry[]> {
  const wheel = pipDownload(SPEAKERBOX, join(work, 'speakerbox'), false);
  const wheelDir = join(work, 'speakerbox-wheel');
  unzip(wheel, wheelDir);
  const clipsDir = join(work, 'speakerbox-diarized');
  unzip(join(wheelDir, 'speakerbox', 'tests', 'data', 'diarized.zip'), clipsDir);
  const entries: Entry[] = [];
  for (const meeting of readdirSync(clipsDir).sort()) {
    const clips: { start: number; speaker: string; path: string }[] = [];
    for (const speaker of readdirSync(join(clipsDir, meeting))) {
      for (const name of readdirSync(join(clipsDir, meeting, speaker)).filter((n) => n.endsWith('.wav'))) {
        clips.push({ start: Number(name.split('-')[0]), speaker, path: join(clipsDir, meeting, speaker, name) });
      }
    }
    clips.sort((x, y) => x.start - y.start);
    const parts: Float32Array[] = [];
    const lines: string[] = [];
    const id = `sbx_${meeting}`;
    let t = 0;
    for (const c of clips) {
      const { pcm } = await decodeFile(c.path);
      lines.push(rttmLine(id, t / SAMPLE_RATE, pcm.length / SAMPLE_RATE, c.speaker));
      parts.push(pcm, new Float32Array(Math.round(GAP_S * SAMPLE_RATE)));
      t += pcm.length + Math.round(GAP_S * SAMPLE_RATE);
    }
    const all = new Float32Array(t);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    mkdirSync(join(out, 'speakerbox_council'), { recursive: true });
    const dest = join(out, 'speakerbox_council', `${id}.flac`);
    writeFlac(all, dest);
    writeFileSync(dest.replace(/\.flac$/, '.rttm'), lines.join('\n') + '\n');
    entries.push({
      file: relative(out, dest), lang: 'en', duration_s: Math.round((t / SAMPLE_RATE) * 1000) / 1000, rttm: relative(out, dest.replace(/\.flac$/, '.rttm')),
      speakers: [...new Set(clips.map((c) => c.speaker))].sort(), tags: ['diarization', 'meeting', 'council'],
      source: `pypi:${SPEAKERBOX} (wheel):speakerbox/tests/data/diarized.zip:${meeting}/*`,
      license: 'speakerbox MIT; audio: Seattle City Council public meetings, redistribution terms not stated (local test input only)',
    });
    log(`${id}: ${(t / SAMPLE_RATE).toFixed(1)} s, ${clips.length} clips, ${new Set(clips.map((c) => c.speaker)).size} speakers`);
  }
  return entries;
}


async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: DIARIZATION_DATA_DIR }, force: { type: 'boolean', default: false } } });
  const out = resolve(values.out ?? DIARIZATION_DATA_DIR);
  if (existsSync(join(out, 'manifest.jsonl')) && !values.force) {
    console.log(`${out} already holds ${loadDiarizationData(out).length} files (--force to fetch again)`);
    return;
  }
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'sori-diarization-data-'));
  try {
    mkdirSync(join(work, 'pyannote'));
    mkdirSync(join(work, 'speakerbox'));
    const entries = [...(await pyannoteAmi(out, work)), ...(await speakerboxCouncil(out, work))];
    writeFileSync(join(out, 'manifest.jsonl'), entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    console.log(`${entries.length} labelled recordings -> ${out} (${basename(out)}/manifest.jsonl)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}
