/**
 * `--help` (or `-h`) for a bench whose usage is its leading doc comment: prints that comment and
 * exits before any work starts, so every bench command answers `--help` as docs/benchmarks.md
 * says, without a second copy of its options to keep in step.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The text of the first doc comment in `source`, its comment markers removed. */
export function usageFromDocComment(source: string): string | undefined {
  const m = /\/\*\*([\s\S]*?)\*\//.exec(source);
  if (m === null) return undefined;
  return m[1].split('\n').map((line) => line.replace(/^\s*\* ?/, '').trimEnd()).join('\n').trim();
}

/** Called at the top of a bench script with its `import.meta.url`. */
export function helpOnRequest(moduleUrl: string, argv: readonly string[] = process.argv.slice(2)): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const path = fileURLToPath(moduleUrl);
  console.log(usageFromDocComment(readFileSync(path, 'utf8')) ?? `${path} has no usage comment`);
  process.exit(0);
}
