/**
 * Test-clip selection. The filter mirrors reference.py line for line (reference present and
 * non-empty, lang in ko/en/ja/zh, duration_s <= max-s, tag) so both engines see the same clips.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const SCORED_LANGS = ['ko', 'en', 'ja', 'zh'] as const;

/** One manifest.jsonl line (only the fields used here). */
export interface ManifestEntry {
  file: string;
  lang: string;
  duration_s: number;
  reference?: string | null;
  reference_spelled?: string | null;
  tags?: string[];
  [other: string]: unknown;
}

export interface Clip {
  /** Path relative to the testdata folder, as in the manifest. */
  file: string;
  /** Absolute path. */
  path: string;
  lang: string;
  durationS: number;
  reference: string;
  referenceSpelled: string | null;
  entry: ManifestEntry;
}

export interface ClipFilter {
  /** undefined = every tag (--all). */
  tag?: string;
  lang?: string;
  maxS: number;
  /** First N clips, taking languages in turn so that small runs still cover each language. */
  limit?: number;
}

export function manifestPath(testdata: string): string {
  return join(testdata, 'manifest.jsonl');
}

export function loadManifest(path: string): ManifestEntry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as ManifestEntry;
      } catch (err) {
        throw new Error(`${path}:${i + 1}: bad JSON line`, { cause: err });
      }
    });
}

export function selectClips(entries: readonly ManifestEntry[], testdata: string, f: ClipFilter): Clip[] {
  const picked = entries.filter(
    (r) =>
      !!r.reference &&
      (SCORED_LANGS as readonly string[]).includes(r.lang) &&
      !(r.duration_s > f.maxS) &&
      (f.tag === undefined || (r.tags ?? []).includes(f.tag)) &&
      (f.lang === undefined || r.lang === f.lang),
  );
  const limited = f.limit === undefined ? picked : interleaveByLang(picked, f.limit);
  return limited.map((r) => ({
    file: r.file,
    path: resolve(testdata, r.file),
    lang: r.lang,
    durationS: r.duration_s,
    reference: r.reference as string,
    referenceSpelled: r.reference_spelled ?? null,
    entry: r,
  }));
}

/** A manifest entry as a Clip, whatever its tags (long files are outside the quick selection). */
export function clipFromEntry(e: ManifestEntry, testdata: string): Clip {
  return {
    file: e.file,
    path: resolve(testdata, e.file),
    lang: e.lang,
    durationS: e.duration_s,
    reference: e.reference ?? '',
    referenceSpelled: e.reference_spelled ?? null,
    entry: e,
  };
}

/** Up to n entries, one language at a time in turn, returned in manifest order. */
function interleaveByLang(entries: readonly ManifestEntry[], n: number): ManifestEntry[] {
  const queues = new Map<string, ManifestEntry[]>();
  for (const e of entries) {
    const q = queues.get(e.lang) ?? [];
    q.push(e);
    queues.set(e.lang, q);
  }
  const chosen = new Set<ManifestEntry>();
  while (chosen.size < Math.min(n, entries.length)) {
    for (const q of queues.values()) {
      const e = q.shift();
      if (e && chosen.size < n) chosen.add(e);
    }
  }
  return entries.filter((e) => chosen.has(e));
}

/**
 * A manifest holding exactly these clips with absolute `file` paths, for reference.py:
 * it joins dirname(manifest) with `file`, and Python's os.path.join keeps an absolute second part.
 */
export function writeClipManifest(clips: readonly Clip[], path: string): void {
  writeFileSync(path, clips.map((c) => JSON.stringify({ ...c.entry, file: c.path })).join('\n') + '\n');
}

/** Clips in turn, one language after another, repeated to `count` requests. */
export function requestMix(clips: readonly Clip[], count: number): Clip[] {
  if (clips.length === 0) return [];
  const order = interleaveOrder(clips);
  return Array.from({ length: count }, (_, i) => order[i % order.length]);
}

function interleaveOrder(clips: readonly Clip[]): Clip[] {
  const queues = new Map<string, Clip[]>();
  for (const c of clips) queues.set(c.lang, [...(queues.get(c.lang) ?? []), c]);
  const out: Clip[] = [];
  while (out.length < clips.length) {
    for (const q of queues.values()) {
      const c = q.shift();
      if (c) out.push(c);
    }
  }
  return out;
}
