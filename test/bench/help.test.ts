import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { usageFromDocComment } from '../../bench/lib/help.js';

test('usage is the first doc comment without its markers', () => {
  const source = "#!/usr/bin/env node\n/**\n * What it runs.\n *\n *   node x.ts [--only ami]\n */\nimport x from 'y';\n/** not this */\n";
  assert.equal(usageFromDocComment(source), 'What it runs.\n\n  node x.ts [--only ami]');
  assert.equal(usageFromDocComment('const a = 1;'), undefined);
});

test('a bench answers --help with its usage and does no work', () => {
  // diarization.ts would load models and score files; with --help it prints and exits 0.
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/diarization.ts', '--help'], { encoding: 'utf8', env: { ...process.env, SORI_MODELS_DIR: '/nonexistent' } });
  assert.match(out, /--set threshold=0\.75/);
});
