/**
 * node --import tsx bench/hardening-soak.ts [--cycles 50] [--seed 1] [--kill server|group] [--json] [--strict]
 *
 * Crash soak under mixed load (issue 18): long-form jobs with callbacks, short requests and live
 * streams (gRPC and WebSocket) against the real server while it is SIGKILLed and restarted
 * `--cycles` times. Figures: cycles; jobs accepted / completed / failed / lost / completed twice;
 * callbacks exactly once; short requests ok / cut by a kill / defective; streams ok / cut /
 * defective; orphan processes; peak RSS. The work is `runMixedSoak` in lib/mixed-soak.ts (also
 * called by bench/hardening.ts). Result: .bench/hardening-soak-latest.json.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatMixedSoak, runMixedSoak, type MixedSoakResult } from './lib/mixed-soak.js';
import { finishRun } from './lib/output.js';

const HELP = `usage: node --import tsx bench/hardening-soak.ts [options]
  --cycles 50           SIGKILL + restart cycles (about 25 s each, plus the final drain)
  --seed 1              seed of the kill schedule and of every load's choices
  --kill server         server: SIGKILL the server process only, then check that its children
                        exit on their own | group: SIGKILL the whole process group
  --server-entry F      server entry point (default src/main.ts via tsx)
  --json                result JSON on stdout instead of tables
  --strict              exit 1 when an invariant FAILs
Progress goes to stderr; the server log to .bench/hardening-soak-server.log.`;

export async function hardeningSoakCli(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      cycles: { type: 'string', default: '50' },
      seed: { type: 'string', default: '1' },
      kill: { type: 'string', default: 'server' },
      'server-entry': { type: 'string', default: 'src/main.ts' },
      json: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (a.help) {
    console.log(HELP);
    return 0;
  }
  const cycles = Number(a.cycles);
  const seed = Number(a.seed);
  if (!Number.isInteger(cycles) || cycles < 1) throw new Error(`--cycles wants a positive integer, got ${a.cycles}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed wants a non-negative integer, got ${a.seed}`);
  if (a.kill !== 'server' && a.kill !== 'group') throw new Error(`--kill wants server or group, got ${a.kill}`);
  const result: MixedSoakResult = await runMixedSoak({ cycles, seed, killMode: a.kill, entry: a['server-entry'] });
  return finishRun('hardening-soak', result, formatMixedSoak, a);
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href;
}

if (isEntryPoint()) {
  hardeningSoakCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
