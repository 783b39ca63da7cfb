/**
 * Progress of `sori transcribe`, on stderr: on a terminal one bar per file (cli-progress's
 * multibar, as `models pull` uses) with percent, speed in x real time and ETA; otherwise plain
 * lines, a few per file, so logs and pipes get no control characters.
 */
import cliProgress from 'cli-progress';

export interface TranscribeReporter {
  /** Processing of the file began (timing and speed count from here). */
  started(file: string): void;
  /** The media's length, once known (undefined: the container does not say). */
  duration(file: string, durationS: number | undefined): void;
  /** 0-1 of the file processed. */
  progress(file: string, fraction: number): void;
  done(file: string): void;
  failed(file: string, message: string): void;
  /** A line for the user, kept clear of the bars. */
  note(line: string): void;
  /** Tears the bars down; call once, at the end. */
  stop(): void;
}

/** How long a file has taken and how fast that was, for its last line. */
export interface FileTiming {
  startedAt: number;
  /** When `fraction` last moved. */
  progressAt: number;
  durationS: number | undefined;
  fraction: number;
}

export function formatSeconds(s: number): string {
  return s < 100 ? s.toFixed(1) : Math.round(s).toString();
}

/** m:ss or h:mm:ss. */
export function formatClock(s: number): string {
  const total = Math.max(0, Math.round(s));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * Media seconds processed per wall-clock second up to the last progress step (progress moves a
 * window at a time: measured to now, the speed would sink between steps).
 */
export function speedOf(t: FileTiming): number | undefined {
  const elapsed = (t.progressAt - t.startedAt) / 1000;
  if (t.durationS === undefined || t.fraction <= 0 || elapsed < 0.2) return undefined;
  return (t.fraction * t.durationS) / elapsed;
}

/** Seconds left at that speed, counting the time since the last step as spent on the rest. */
export function etaOf(t: FileTiming, now: number): number | undefined {
  const speed = speedOf(t);
  if (speed === undefined || t.durationS === undefined) return undefined;
  return Math.max(0, ((1 - t.fraction) * t.durationS) / speed - (now - t.progressAt) / 1000);
}

/** "done in 12.3 s (4.1x real time)", the speed left out when the media's length is unknown. */
export function doneLine(t: FileTiming, now: number): string {
  const elapsed = (now - t.startedAt) / 1000;
  const speed = t.durationS === undefined || elapsed <= 0 ? '' : ` (${(t.durationS / elapsed).toFixed(1)}x real time)`;
  return `done in ${formatSeconds(elapsed)} s${speed}`;
}

export function createTranscribeReporter(out: NodeJS.WriteStream, files: readonly string[], opts: { lineEveryMs?: number } = {}): TranscribeReporter {
  return out.isTTY ? new BarReporter(out, files) : new LineReporter(out, opts.lineEveryMs ?? LINE_EVERY_MS);
}

const LINE_EVERY_MS = 5000;

class Timings {
  private readonly byFile = new Map<string, FileTiming>();

  get(file: string): FileTiming {
    let t = this.byFile.get(file);
    if (t === undefined) {
      const now = Date.now();
      t = { startedAt: now, progressAt: now, durationS: undefined, fraction: 0 };
      this.byFile.set(file, t);
    }
    return t;
  }

  start(file: string): void {
    const t = this.get(file);
    t.startedAt = t.progressAt = Date.now();
  }

  advance(file: string, fraction: number): FileTiming {
    const t = this.get(file);
    if (fraction > t.fraction) {
      t.fraction = fraction;
      t.progressAt = Date.now();
    }
    return t;
  }
}

/** `file: started (1:02 of media)`, `file: 40%` at most every few seconds, then `file: done in 12.3 s (4.1x real time)`. */
class LineReporter implements TranscribeReporter {
  private readonly timings = new Timings();
  private readonly lastLine = new Map<string, { at: number; percent: number }>();

  constructor(private readonly out: NodeJS.WritableStream, private readonly everyMs: number) {}

  started(file: string): void {
    this.timings.start(file);
    this.lastLine.set(file, { at: Date.now(), percent: 0 });
  }

  duration(file: string, durationS: number | undefined): void {
    this.timings.get(file).durationS = durationS;
    this.out.write(`${file}: started${durationS === undefined ? '' : ` (${formatClock(durationS)} of media)`}\n`);
  }

  progress(file: string, fraction: number): void {
    const t = this.timings.advance(file, fraction);
    const percent = Math.floor(t.fraction * 100);
    const last = this.lastLine.get(file);
    const now = Date.now();
    if (last !== undefined && (percent <= last.percent || now - last.at < this.everyMs)) return;
    this.lastLine.set(file, { at: now, percent });
    this.out.write(`${file}: ${percent}%\n`);
  }

  done(file: string): void {
    this.out.write(`${file}: ${doneLine(this.timings.get(file), Date.now())}\n`);
  }

  failed(file: string, message: string): void {
    this.out.write(`${file}: failed: ${message}\n`);
  }

  note(line: string): void {
    this.out.write(`${line}\n`);
  }

  stop(): void {}
}

class BarReporter implements TranscribeReporter {
  private readonly timings = new Timings();
  private readonly multibar: cliProgress.MultiBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly width: number;
  private readonly ticker: NodeJS.Timeout;
  private stopped = false;

  constructor(out: NodeJS.WriteStream, files: readonly string[]) {
    this.width = Math.min(40, Math.max(...files.map((f) => f.length)));
    this.multibar = new cliProgress.MultiBar(
      {
        stream: out,
        format: '{file} |{bar}| {percentage}% | {status}',
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: true,
      },
      cliProgress.Presets.shades_classic,
    );
    for (const file of files) this.bars.set(file, this.multibar.create(100, 0, { file: this.label(file), status: 'waiting' }));
    // Speed and ETA move with the clock between the pipeline's progress steps (a window at a time).
    this.ticker = setInterval(() => {
      for (const file of this.bars.keys()) this.refresh(file);
    }, 1000);
    this.ticker.unref();
  }

  started(file: string): void {
    this.timings.start(file);
    this.bar(file)?.update({ status: 'starting' });
  }

  duration(file: string, durationS: number | undefined): void {
    this.timings.get(file).durationS = durationS;
  }

  progress(file: string, fraction: number): void {
    this.timings.advance(file, fraction);
    this.refresh(file);
  }

  done(file: string): void {
    this.settle(file, 100, doneLine(this.timings.get(file), Date.now()));
  }

  failed(file: string, message: string): void {
    this.settle(file, Math.floor(this.timings.get(file).fraction * 100), 'failed');
    this.note(`${file}: failed: ${message}`);
  }

  note(line: string): void {
    if (this.stopped) process.stderr.write(`${line}\n`);
    else this.multibar.log(`${line}\n`);
  }

  stop(): void {
    if (this.stopped) return;
    clearInterval(this.ticker);
    this.multibar.stop();
    this.stopped = true;
  }

  private bar(file: string): cliProgress.SingleBar | undefined {
    return this.stopped ? undefined : this.bars.get(file);
  }

  private settle(file: string, percent: number, status: string): void {
    this.bar(file)?.update(percent, { status });
    this.bars.delete(file);
  }

  private refresh(file: string): void {
    const t = this.timings.get(file);
    if (t.fraction <= 0 && t.durationS === undefined) return;
    const speed = speedOf(t);
    const eta = etaOf(t, Date.now());
    const status = speed === undefined || eta === undefined ? 'working, speed and ETA after the first window' : `${speed.toFixed(1)}x real time, ETA ${formatClock(eta)}`;
    this.bar(file)?.update(Math.floor(t.fraction * 100), { status });
  }

  private label(file: string): string {
    return file.length <= this.width ? file.padEnd(this.width) : `…${file.slice(file.length - this.width + 1)}`;
  }
}
