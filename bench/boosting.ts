/**
 * npm run bench:boosting -- [--lang ko] [--tag quick | --all] [--half eval|tune|all] [--limit N]
 *                           [--weight 1] [--threshold 0.25] [--keywords 20] [--beam 5] [--threads 2] [--json]
 *                           [--salt S] [--no-prompt] [--no-cache] [-v]
 *
 * Keyword boosting, per lever (see bench/lib/boosting.ts): recall of reference words the plain
 * output misses once they are boosted among distractors, and the CER/WER change on clips whose
 * reference has none of the keywords. Tune on `--half tune`, report `--half eval` (the default).
 * Decodes are cached in .bench/boosting-decodes.json (key: beam, lever, weight, clip, keywords),
 * so a threshold sweep re-runs in seconds; the source changing invalidates nothing: use --no-cache,
 * or --salt (a new key for boosted decodes only, keeping the plain ones). --no-prompt skips the
 * prompt levers (off in the server; they double the decoding).
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { boostingFigure, formatBoostingReport, inHalf, type Half } from './lib/boosting.js';
import { loadManifest, manifestPath, selectClips } from './lib/manifest.js';
import { OUT_DIR, modelsDir, testdataDir } from './lib/paths.js';
import { loadDecoder, openEngine } from './lib/sori.js';
import { log } from './lib/progress.js';
import { writeLatest } from './lib/output.js';
import { helpOnRequest } from './lib/help.js';

helpOnRequest(import.meta.url);

const { values: a } = parseArgs({
  options: {
    lang: { type: 'string', default: 'ko' },
    tag: { type: 'string', default: 'quick' },
    all: { type: 'boolean', default: false },
    half: { type: 'string', default: 'eval' },
    limit: { type: 'string' },
    weight: { type: 'string', default: '1' },
    threshold: { type: 'string' },
    keywords: { type: 'string', default: '20' },
    beam: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    'max-s': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    salt: { type: 'string' },
    'no-cache': { type: 'boolean', default: false },
    'no-prompt': { type: 'boolean', default: false },
  },
});

const CACHE = join(OUT_DIR, 'boosting-decodes.json');

function loadCache(): Map<string, string> {
  if (!existsSync(CACHE) || a['no-cache']) return new Map();
  return new Map(Object.entries(JSON.parse(readFileSync(CACHE, 'utf8')) as Record<string, string>));
}

function saveCache(cache: ReadonlyMap<string, string>): void {
  mkdirSync(OUT_DIR, { recursive: true });
  // Merged with what is on disk: another run may have added entries meanwhile.
  const all = existsSync(CACHE) ? (JSON.parse(readFileSync(CACHE, 'utf8')) as Record<string, string>) : {};
  for (const [k, v] of cache) all[k] = v;
  writeFileSync(CACHE, JSON.stringify(all, null, 1));
}

async function main(): Promise<void> {
  const half = a.half as Half;
  if (!['tune', 'eval', 'all'].includes(half)) throw new Error('--half is tune, eval or all');
  const beam = Number(a.beam);
  const td = testdataDir();
  const langs = (a.lang ?? 'ko').split(',');
  const clips = langs.flatMap((lang) =>
    selectClips(loadManifest(manifestPath(td)), td, { tag: a.all ? undefined : a.tag, lang, maxS: Number(a['max-s']) })
      .filter((c) => inHalf(c.file, half))
      .slice(0, a.limit === undefined ? undefined : Number(a.limit)),
  );
  if (clips.length === 0) throw new Error('no clips selected');
  const weight = Number(a.weight);
  const threshold = a.threshold === undefined ? undefined : Number(a.threshold);
  log(`boosting bench: ${clips.length} clips (${langs.join(',')}, ${a.all ? 'all tags' : `tag ${a.tag}`}, half ${half}), beam ${beam}, weight ${weight}, threshold ${threshold ?? 'default'}`);
  const decode = await loadDecoder();
  const engine = await openEngine({ modelsDir: modelsDir(), threads: Number(a.threads), beamSize: beam });
  try {
    let n = 0;
    const report = await boostingFigure(engine, decode, clips, {
      beamSize: beam, keywordCount: Number(a.keywords), weight, threshold, cache: loadCache(), salt: a.salt, noPrompt: a['no-prompt'],
      onClip: (label) => log(`${++n} ${label}`),
    });
    saveCache(report.cache);
    const out = { kind: 'boosting', half, langs, weight, threshold: threshold ?? null, beam, ...report, cache: undefined };
    writeLatest('boosting', out);
    if (a.json) console.log(JSON.stringify(out));
    else {
      console.log(formatBoostingReport(report));
      const missedBy = report.targets.filter((t) => !(t.found.all ?? t.found['bias+post'])).map((t) => `${t.file}: ${t.word}`);
      if (missedBy.length > 0) console.log(`\nstill missed with all measured levers: ${missedBy.join('; ')}`);
      if (a.verbose) {
        console.log('\ntargets (word: plain | bias | bias+post):');
        for (const t of report.targets) {
          const mark = (l: 'none' | 'bias' | 'bias+post'): string => `${t.found[l] === true ? '+' : '-'} ${t.texts[l] ?? ''}`;
          console.log(`  ${t.file}: ${t.word}\n    ${mark('none')}\n    ${mark('bias')}\n    ${mark('bias+post')}`);
        }
        console.log('\npost-correction of the plain output:');
        for (const c of report.corrections) console.log(`  ${c.kind} ${c.file}: ${c.edits.join('; ')}`);
        console.log('\ncontrol clips whose errors changed (lever: plain -> boosted errors):');
        for (const c of report.controlChanges) console.log(`  ${c.file} ${c.lever}: ${c.plainErrors} -> ${c.errors}\n    plain:   ${c.plain}\n    boosted: ${c.text}`);
      }
    }
  } finally {
    await engine.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
