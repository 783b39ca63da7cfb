/**
 * Shows `pullModel` progress: live bars (bytes, speed, ETA) on a terminal, plain lines otherwise,
 * so logs and CI output stay readable and free of control characters.
 */
import cliProgress from 'cli-progress';
import type { FileResult, PullProgress, Verification } from '../speech/models/download.js';

export interface PullReporter {
  progress(p: PullProgress): void;
  file(r: FileResult): void;
  /** Tears down the bars; call on success and on failure. */
  stop(): void;
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 10 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

const VERIFIED: Record<Verification, string> = {
  sha256: 'sha256 verified',
  'hub-sha256': 'sha256 verified (from the server)',
  'hub-git-sha1': 'git blob id verified (from the server)',
  none: 'NOT verified',
};

export function describeResult(r: FileResult): string {
  const what =
    r.status === 'downloaded'
      ? `downloaded ${formatBytes(r.bytes)}${r.resumedFrom ? ` (resumed at ${formatBytes(r.resumedFrom)})` : ''}, ${VERIFIED[r.verified]}`
      : r.status === 'present'
        ? `already present${r.verified === 'none' ? '' : `, ${VERIFIED[r.verified]}`}`
        : 'skipped';
  return `${r.path}: ${what}${r.note ? ` — ${r.note}` : ''}`;
}

export function createReporter(out: NodeJS.WriteStream): PullReporter {
  return out.isTTY ? new BarReporter(out) : new LineReporter(out);
}

/** Plain lines: a start line, then one every quarter for files of a megabyte or more. */
class LineReporter implements PullReporter {
  private readonly started = new Map<string, number>();

  constructor(private readonly out: NodeJS.WritableStream) {}

  progress(p: PullProgress): void {
    const lastQuarter = this.started.get(p.file);
    if (lastQuarter === undefined) {
      const size = p.total === undefined ? 'size unknown' : formatBytes(p.total);
      const resumed = p.received > 0 ? `, resuming at ${formatBytes(p.received)}` : '';
      this.out.write(`${p.file}: downloading (${size}${resumed})\n`);
      this.started.set(p.file, p.total ? Math.floor((4 * p.received) / p.total) : 0);
      return;
    }
    if (!p.total || p.total < 1_000_000) return;
    const quarter = Math.floor((4 * p.received) / p.total);
    if (quarter > lastQuarter && quarter < 4) {
      this.out.write(`${p.file}: ${quarter * 25}% (${formatBytes(p.received)} of ${formatBytes(p.total)})\n`);
      this.started.set(p.file, quarter);
    }
  }

  file(r: FileResult): void {
    this.out.write(`${describeResult(r)}\n`);
  }

  stop(): void {}
}

interface Live {
  file: string;
  bar: cliProgress.SingleBar;
  firstReceived: number;
  firstAt: number;
}

/**
 * One bar per file, for the file being downloaded now (pullModel goes one file at a time); when a
 * file is done its bar is cleared and replaced by one plain result line.
 */
class BarReporter implements PullReporter {
  private live: Live | undefined;

  constructor(private readonly out: NodeJS.WritableStream) {}

  progress(p: PullProgress): void {
    const total = p.total ?? Math.max(p.received, 1);
    if (this.live?.file !== p.file) {
      this.clear();
      const bar = new cliProgress.SingleBar(
        {
          stream: this.out,
          format: '{file} |{bar}| {percentage}% | {bytes} | {speed} | ETA {eta_formatted}',
          barsize: 30,
          hideCursor: true,
          clearOnComplete: true,
          stopOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      const now = Date.now();
      bar.start(total, p.received, payload(p, p.received, now));
      this.live = { file: p.file, bar, firstReceived: p.received, firstAt: now };
      return;
    }
    if (this.live.bar.getTotal() !== total) this.live.bar.setTotal(total);
    this.live.bar.update(p.received, payload(p, this.live.firstReceived, this.live.firstAt));
  }

  file(r: FileResult): void {
    if (this.live?.file === r.path) this.clear();
    this.out.write(`${describeResult(r)}\n`);
  }

  stop(): void {
    this.clear();
  }

  private clear(): void {
    this.live?.bar.stop();
    this.live = undefined;
  }
}

/** Speed counts this session's bytes only, so a resumed file does not look impossibly fast. */
function payload(p: PullProgress, firstReceived: number, firstAt: number): Record<string, string> {
  const seconds = (Date.now() - firstAt) / 1000;
  const speed = seconds > 0.2 ? `${formatBytes(Math.round((p.received - firstReceived) / seconds))}/s` : '…';
  const bytes = p.total === undefined ? formatBytes(p.received) : `${formatBytes(p.received)}/${formatBytes(p.total)}`;
  return { file: p.file, bytes, speed };
}
