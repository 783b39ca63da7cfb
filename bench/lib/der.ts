/**
 * Diarization error rate, as NIST md-eval scores it: (missed + false alarm + confusion) over the
 * total reference speech, overlapped speech scored (a frame with two reference speakers counts
 * twice), a collar of `collar` seconds on each side of every reference turn boundary left out,
 * and hypothesis speakers mapped one-to-one onto reference speakers so that their co-occurring
 * time is maximal (Hungarian method).
 *
 * Note on the collar: md-eval's `-c 0.25` removes 0.25 s on *each* side of a boundary; that is
 * what `collar: 0.25` means here (pyannote.metrics spells the same thing `collar=0.5`).
 */
import { assignMaxScore } from '../../src/speech/diarization/hungarian.js';

export interface SpeakerSegment {
  start: number;
  end: number;
  speaker: string;
}

export interface DerOptions {
  /** Seconds excluded on each side of every reference boundary. */
  collar: number;
}

export interface DerResult {
  /** Seconds of reference speech scored (each speaker counted separately). */
  total: number;
  missed: number;
  falseAlarm: number;
  confusion: number;
  /** (missed + falseAlarm + confusion) / total; 0 when there is nothing to score and no hypothesis. */
  der: number;
  /** Reference speaker -> hypothesis speaker chosen by the optimal mapping. */
  mapping: Map<string, string>;
}

/**
 * `SPEAKER <file> <chan> <start> <dur> <NA> <NA> <speaker> <NA> <NA>` lines; others ignored.
 * With `fileId`, only that file's lines.
 */
export function parseRttm(text: string, fileId?: string): SpeakerSegment[] {
  const out: SpeakerSegment[] = [];
  text.split('\n').forEach((line, i) => {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'SPEAKER') return;
    if (f.length < 8) throw new Error(`RTTM line ${i + 1}: expected at least 8 fields`);
    if (fileId !== undefined && f[1] !== fileId) return;
    const start = Number(f[3]);
    const dur = Number(f[4]);
    if (!Number.isFinite(start) || !Number.isFinite(dur) || dur < 0) throw new Error(`RTTM line ${i + 1}: bad start/duration`);
    out.push({ start, end: start + dur, speaker: f[7] });
  });
  return out;
}

export function toRttm(segments: readonly SpeakerSegment[], fileId: string): string {
  return segments
    .map((s) => `SPEAKER ${fileId} 1 ${s.start.toFixed(3)} ${(s.end - s.start).toFixed(3)} <NA> <NA> ${s.speaker} <NA> <NA>\n`)
    .join('');
}

/** Each speaker's segments as a sorted union (a speaker overlapping itself speaks once). */
function unionBySpeaker(segs: readonly SpeakerSegment[]): SpeakerSegment[] {
  const by = new Map<string, SpeakerSegment[]>();
  for (const s of segs) {
    if (s.end <= s.start) continue;
    by.set(s.speaker, [...(by.get(s.speaker) ?? []), s]);
  }
  const out: SpeakerSegment[] = [];
  for (const [speaker, list] of by) {
    list.sort((a, b) => a.start - b.start);
    let cur: SpeakerSegment | undefined;
    for (const s of list) {
      if (cur && s.start <= cur.end) cur.end = Math.max(cur.end, s.end);
      else {
        if (cur) out.push(cur);
        cur = { start: s.start, end: s.end, speaker };
      }
    }
    if (cur) out.push(cur);
  }
  return out;
}

interface Piece {
  dur: number;
  ref: number[];
  hyp: number[];
}

export function diarizationErrorRate(reference: readonly SpeakerSegment[], hypothesis: readonly SpeakerSegment[], o: DerOptions): DerResult {
  const ref = unionBySpeaker(reference);
  const hyp = unionBySpeaker(hypothesis);
  const refIds = [...new Set(ref.map((s) => s.speaker))];
  const hypIds = [...new Set(hyp.map((s) => s.speaker))];
  const refIx = new Map(refIds.map((s, i) => [s, i]));
  const hypIx = new Map(hypIds.map((s, i) => [s, i]));

  // Sweep over events; between two consecutive times every set is constant.
  type Ev = { t: number; kind: 'ref' | 'hyp' | 'collar'; who: number; delta: 1 | -1 };
  const ev: Ev[] = [];
  for (const s of ref) {
    ev.push({ t: s.start, kind: 'ref', who: refIx.get(s.speaker) as number, delta: 1 });
    ev.push({ t: s.end, kind: 'ref', who: refIx.get(s.speaker) as number, delta: -1 });
    if (o.collar > 0) {
      for (const b of [s.start, s.end]) {
        ev.push({ t: b - o.collar, kind: 'collar', who: 0, delta: 1 });
        ev.push({ t: b + o.collar, kind: 'collar', who: 0, delta: -1 });
      }
    }
  }
  for (const s of hyp) {
    ev.push({ t: s.start, kind: 'hyp', who: hypIx.get(s.speaker) as number, delta: 1 });
    ev.push({ t: s.end, kind: 'hyp', who: hypIx.get(s.speaker) as number, delta: -1 });
  }
  ev.sort((a, b) => a.t - b.t);
  const refOn = new Int32Array(refIds.length);
  const hypOn = new Int32Array(hypIds.length);
  let collarDepth = 0;
  const pieces: Piece[] = [];
  for (let i = 0; i < ev.length; i++) {
    const e = ev[i];
    if (e.kind === 'ref') refOn[e.who] += e.delta;
    else if (e.kind === 'hyp') hypOn[e.who] += e.delta;
    else collarDepth += e.delta;
    const next = i + 1 < ev.length ? ev[i + 1].t : e.t;
    const dur = next - e.t;
    if (dur <= 0 || collarDepth > 0) continue;
    const r = [...refOn.keys()].filter((k) => refOn[k] > 0);
    const h = [...hypOn.keys()].filter((k) => hypOn[k] > 0);
    if (r.length > 0 || h.length > 0) pieces.push({ dur, ref: r, hyp: h });
  }

  const co = refIds.map(() => new Array<number>(hypIds.length).fill(0));
  for (const p of pieces) for (const r of p.ref) for (const h of p.hyp) co[r][h] += p.dur;
  const map = hypIds.length > 0 ? assignMaxScore(co) : refIds.map(() => -1);

  let total = 0;
  let missed = 0;
  let falseAlarm = 0;
  let confusion = 0;
  for (const p of pieces) {
    const nr = p.ref.length;
    const nh = p.hyp.length;
    const hypSet = new Set(p.hyp);
    const correct = p.ref.filter((r) => map[r] >= 0 && hypSet.has(map[r])).length;
    total += p.dur * nr;
    missed += p.dur * Math.max(0, nr - nh);
    falseAlarm += p.dur * Math.max(0, nh - nr);
    confusion += p.dur * (Math.min(nr, nh) - correct);
  }
  const errors = missed + falseAlarm + confusion;
  const mapping = new Map<string, string>();
  map.forEach((h, r) => {
    if (h >= 0) mapping.set(refIds[r], hypIds[h]);
  });
  return { total, missed, falseAlarm, confusion, der: total > 0 ? errors / total : errors > 0 ? Infinity : 0, mapping };
}

/** The floor's time step: 10 ms. */
const FLATTEN_STEP_S = 0.01;

/**
 * Turns with one speaker at a time: at each 10 ms the active turn that started first (the one a
 * transcript most likely follows). What one-speaker segments (CLOVA's) can at best return.
 */
export function flattenToOneSpeaker(ref: readonly SpeakerSegment[]): SpeakerSegment[] {
  const end = Math.max(0, ...ref.map((t) => t.end));
  const out: SpeakerSegment[] = [];
  for (let i = 0; i * FLATTEN_STEP_S < end; i++) {
    const t = (i + 0.5) * FLATTEN_STEP_S;
    let who: SpeakerSegment | undefined;
    for (const turn of ref) if (turn.start <= t && t < turn.end && (who === undefined || turn.start < who.start)) who = turn;
    if (who === undefined) continue;
    const last = out.at(-1);
    if (last !== undefined && last.speaker === who.speaker && Math.abs(last.end - i * FLATTEN_STEP_S) < FLATTEN_STEP_S / 2) last.end = (i + 1) * FLATTEN_STEP_S;
    else out.push({ start: i * FLATTEN_STEP_S, end: (i + 1) * FLATTEN_STEP_S, speaker: who.speaker });
  }
  return out;
}
