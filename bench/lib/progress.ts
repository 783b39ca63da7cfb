/**
 * Progress on stderr (stdout stays clean for tables or --json). A live bar on a terminal,
 * one line per step otherwise so that logs of long runs stay readable.
 */
import cliProgress from 'cli-progress';

export function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export interface Progress {
  tick(detail: string): void;
  stop(): void;
}

export function progress(label: string, total: number): Progress {
  if (!process.stderr.isTTY) {
    let n = 0;
    return {
      tick(detail) {
        n += 1;
        log(`${label} ${n}/${total} ${detail}`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {detail}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { detail: '' });
  return {
    tick(detail) {
      bar.increment(1, { detail });
    },
    stop() {
      bar.stop();
      log(`${label} done (${total})`);
    },
  };
}
