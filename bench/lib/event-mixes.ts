/**
 * Mixes for the sound-event bench and tests: shared speech recordings with one synthetic event
 * sound (made with `sox -n ... synth`) laid over them at a known onset and level, plus the same
 * speech alone. Everything is written to a temp folder at run time; no audio is ever committed.
 *
 * Only sounds that YAMNet recognises when played alone are used (checked by hand, see the bench
 * header): synthetic laughter, crying, coughing, applause and doorbells made this way did not
 * sound like the real thing to the model, and no recordings of them exist on this machine.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mulberry32 } from '../../src/speech/whisper/search.js';

const run = promisify(execFile);
const RATE = '16000';

/** One synthetic event sound: sox `synth` argument lists, rendered and joined end to end. */
export interface EventRecipe {
  name: string;
  /** The product label a detector should report for it. */
  label: string;
  parts(durationS: number): string[][];
}

const repeat = <T>(n: number, f: (i: number) => T[]): T[] => Array.from({ length: Math.max(1, n) }, (_, i) => f(i)).flat();
const NOTES = ['C4', 'E4', 'G4', 'C5', 'G4', 'E4', 'C4', 'D4', 'F4', 'A4', 'D5', 'A4'];
const CHORDS = [['C3', 'E4', 'G4', 'C5'], ['F3', 'A4', 'C5', 'F5'], ['G3', 'B4', 'D5', 'G5'], ['A3', 'C4', 'E4', 'A4']];
const DTMF = [[697, 1209], [770, 1336], [852, 1477], [941, 1336], [697, 1336], [770, 1209]];
const f = (x: number): string => x.toFixed(3);

export const EVENT_RECIPES: readonly EventRecipe[] = [
  { name: 'white-noise', label: 'noise', parts: (d) => [['synth', f(d), 'whitenoise', 'vol', '0.5']] },
  { name: 'pink-noise', label: 'noise', parts: (d) => [['synth', f(d), 'pinknoise']] },
  { name: 'brown-noise', label: 'noise', parts: (d) => [['synth', f(d), 'brownnoise']] },
  { name: 'tone-1k', label: 'beep', parts: (d) => [['synth', f(d), 'sine', '1000']] },
  { name: 'beeps-1k', label: 'beep', parts: (d) => repeat(Math.round(d / 0.5), () => [['synth', '0.2', 'sine', '1000', 'pad', '0', '0.3']]) },
  { name: 'dial-tone', label: 'beep', parts: (d) => [['synth', f(d), 'sine', '350', 'sine', 'mix', '440', 'vol', '0.5']] },
  {
    name: 'dtmf',
    label: 'beep',
    parts: (d) => repeat(Math.round(d / 0.25), (i) => [['synth', '0.15', 'sine', String(DTMF[i % DTMF.length][0]), 'sine', 'mix', String(DTMF[i % DTMF.length][1]), 'vol', '0.5', 'pad', '0', '0.1']]),
  },
  { name: 'alarm-clock', label: 'beep', parts: (d) => repeat(Math.round(d / 0.14), () => [['synth', '0.08', 'square', '2000', 'vol', '0.3', 'pad', '0', '0.06']]) },
  {
    name: 'siren-wail',
    label: 'siren',
    parts: (d) => repeat(Math.round(d / 1.5), (i) => [['synth', '1.5', 'sawtooth', i % 2 ? '1300:500' : '500:1300', 'vol', '0.3']]),
  },
  {
    name: 'siren-yelp',
    label: 'siren',
    parts: (d) => repeat(Math.round(d / 0.2), (i) => [['synth', '0.2', 'square', i % 2 ? '1600:700' : '700:1600', 'vol', '0.3']]),
  },
  { name: 'pluck-melody', label: 'music', parts: (d) => repeat(Math.round(d / 0.25), (i) => [['synth', '0.25', 'pluck', NOTES[i % NOTES.length]]]) },
  {
    name: 'square-melody',
    label: 'music',
    parts: (d) => repeat(Math.round(d / 0.25), (i) => [['synth', '0.25', 'square', NOTES[i % NOTES.length], 'vol', '0.3', 'fade', '0.01', '0.25', '0.05']]),
  },
  {
    name: 'pluck-chords',
    label: 'music',
    parts: (d) => repeat(Math.round(d / 0.75), (i) => {
      const c = CHORDS[i % CHORDS.length];
      return [['synth', '0.75', 'pluck', c[0], ...c.slice(1).flatMap((n) => ['pluck', 'mix', n])]];
    }),
  },
];

/** A seeded PRNG (the engine's mulberry32): the same seed gives the same mixes on every machine. */
export const prng = mulberry32;

async function sox(args: string[]): Promise<string> {
  const { stderr } = await run('sox', args, { maxBuffer: 16 * 1024 * 1024 });
  return stderr;
}

/** Renders a recipe of about `durationS` into `dir`; returns the file and its exact length. */
export async function renderEvent(dir: string, recipe: EventRecipe, durationS: number, tag: string): Promise<{ path: string; durationS: number }> {
  const parts = recipe.parts(durationS);
  const files: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = join(dir, `${tag}-part${i}.wav`);
    // -R: sox's noise generators are seeded at random otherwise; the same plan must give the same audio.
    await sox(['-R', '-n', '-r', RATE, '-c', '1', '-b', '16', p, ...parts[i]]);
    files.push(p);
  }
  const out = join(dir, `${tag}.wav`);
  await sox([...files, out]);
  return { path: out, durationS: await lengthS(out) };
}

export async function lengthS(path: string): Promise<number> {
  const { stdout } = await run('soxi', ['-D', path]);
  return Number(stdout.trim());
}

/** RMS amplitude of a file (sox `stat`), 0..1. */
export async function rms(path: string): Promise<number> {
  const err = await sox([path, '-n', 'stat']);
  const m = /RMS\s+amplitude:\s+([\d.eE+-]+)/.exec(err);
  if (!m) throw new Error(`sox stat gave no RMS for ${path}`);
  return Number(m[1]);
}

/** Joins speech recordings (16 kHz mono) with `gapS` of silence between them. */
export async function joinSpeech(paths: readonly string[], out: string, gapS = 0.3): Promise<string> {
  const conv: string[] = [];
  for (let i = 0; i < paths.length; i++) {
    const p = `${out}.in${i}.wav`;
    const pad = i < paths.length - 1 ? ['pad', '0', String(gapS)] : [];
    await sox([paths[i], '-r', RATE, '-c', '1', '-b', '16', p, ...pad]);
    conv.push(p);
  }
  if (conv.length === 1) await sox([conv[0], out]);
  else await sox([...conv, out]);
  return out;
}

/**
 * Lays `eventPath` over `speechPath` starting at `onsetS`, its RMS `levelDb` relative to the
 * speech's RMS (speech RMS taken over the whole file, pauses included). sox's guard (-G) lowers
 * the whole mix if the sum would clip, which keeps the ratio.
 */
export async function overlay(speechPath: string, eventPath: string, onsetS: number, levelDb: number, out: string): Promise<void> {
  const gain = ((await rms(speechPath)) / (await rms(eventPath))) * 10 ** (levelDb / 20);
  const shifted = `${out}.event.wav`;
  await sox([eventPath, shifted, 'vol', gain.toFixed(6), 'pad', onsetS.toFixed(3)]);
  await sox(['-G', '-m', '-v', '1', speechPath, '-v', '1', shifted, '-b', '16', out]);
}

export interface SpeechSource {
  /** Manifest path (relative to the testdata folder). */
  file: string;
  path: string;
  lang: string;
  durationS: number;
}

export interface EventMix {
  id: string;
  path: string;
  lang: string;
  durationS: number;
  speech: string[];
  /** What was laid over the speech; null for speech alone. */
  inserted: { label: string; recipe: string; onsetS: number; durationS: number; levelDb: number } | null;
}

export interface MixPlan {
  dir: string;
  speech: readonly SpeechSource[];
  recipes?: readonly EventRecipe[];
  /** Mixes per recipe (each on different speech, onset, length and level). */
  perRecipe: number;
  /** Speech-only clips to add (joined the same way as the mixes' speech). */
  speechOnly: number;
  /** Event level relative to speech RMS, cycled through. */
  levelsDb: readonly number[];
  seed: number;
  /** Shortest speech bed; shorter recordings are joined until this long. */
  minSpeechS?: number;
}

/** Builds every mix of a plan into `plan.dir`. */
export async function buildMixes(plan: MixPlan): Promise<EventMix[]> {
  await mkdir(plan.dir, { recursive: true });
  const rnd = prng(plan.seed);
  const recipes = plan.recipes ?? EVENT_RECIPES;
  const minS = plan.minSpeechS ?? 9;
  if (plan.speech.length === 0) throw new Error('no speech recordings to mix with');
  const pick = (): SpeechSource => plan.speech[Math.floor(rnd() * plan.speech.length)];
  const bed = async (id: string): Promise<{ path: string; lang: string; files: string[]; durationS: number }> => {
    const first = pick();
    const chosen = [first];
    let total = first.durationS;
    const sameLang = plan.speech.filter((s) => s.lang === first.lang);
    while (total < minS && chosen.length < 6) {
      const next = sameLang[Math.floor(rnd() * sameLang.length)];
      chosen.push(next);
      total += next.durationS + 0.3;
    }
    const path = await joinSpeech(chosen.map((c) => c.path), join(plan.dir, `${id}-speech.wav`));
    return { path, lang: first.lang, files: chosen.map((c) => c.file), durationS: await lengthS(path) };
  };

  const mixes: EventMix[] = [];
  let n = 0;
  for (const recipe of recipes) {
    for (let k = 0; k < plan.perRecipe; k++) {
      const id = `m${String(n).padStart(3, '0')}-${recipe.name}`;
      const speech = await bed(id);
      const want = 1.5 + rnd() * 2.5;
      const ev = await renderEvent(plan.dir, recipe, want, `${id}-event`);
      // At least 1 s of speech before the event and after it.
      const latest = Math.max(1, speech.durationS - ev.durationS - 1);
      const onsetS = Math.round((1 + rnd() * (latest - 1)) * 100) / 100;
      const levelDb = plan.levelsDb[n % plan.levelsDb.length];
      const path = join(plan.dir, `${id}.wav`);
      await overlay(speech.path, ev.path, onsetS, levelDb, path);
      mixes.push({
        id, path, lang: speech.lang, durationS: await lengthS(path), speech: speech.files,
        inserted: { label: recipe.label, recipe: recipe.name, onsetS, durationS: ev.durationS, levelDb },
      });
      n++;
    }
  }
  for (let k = 0; k < plan.speechOnly; k++) {
    const id = `s${String(k).padStart(3, '0')}-speech`;
    const speech = await bed(id);
    mixes.push({ id, path: speech.path, lang: speech.lang, durationS: speech.durationS, speech: speech.files, inserted: null });
  }
  return mixes;
}

/** How a detector did on one mix. */
export interface MixOutcome {
  /** An event with the inserted label overlapping the inserted span (±0.5 s). */
  found: boolean;
  /** Start of that event minus the inserted onset, seconds. */
  onsetErrorS: number | null;
  /** found and |onset error| <= toleranceS. */
  pass: boolean;
  /** Events of other labels, or of the inserted label away from the inserted span. */
  extra: number;
}

export interface DetectedEvent {
  label: string;
  startTimestamp: number;
  endTimestamp: number;
}

export function scoreMix(mix: EventMix, events: readonly DetectedEvent[], toleranceS = 0.5): MixOutcome {
  const ins = mix.inserted;
  if (!ins) return { found: false, onsetErrorS: null, pass: events.length === 0, extra: events.length };
  const a = ins.onsetS - 0.5;
  const b = ins.onsetS + ins.durationS + 0.5;
  const hits = events.filter((e) => e.label === ins.label && e.startTimestamp / 1000 < b && e.endTimestamp / 1000 > a);
  const extra = events.length - hits.length;
  if (hits.length === 0) return { found: false, onsetErrorS: null, pass: false, extra };
  const errors = hits.map((e) => e.startTimestamp / 1000 - ins.onsetS);
  const best = errors.reduce((x, y) => (Math.abs(y) < Math.abs(x) ? y : x));
  return { found: true, onsetErrorS: best, pass: Math.abs(best) <= toleranceS, extra };
}
