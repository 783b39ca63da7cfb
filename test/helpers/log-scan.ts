/**
 * The scan behind test/check-logs.ts: every line of every `*.log` file of a run directory
 * against every secret recorded there (test-logs.ts). A secret is looked for as written, and as
 * it would look inside a JSON string or a URL (escaped, percent-encoded), since that is how a
 * log line would carry it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_SCANNED_SECRET_LENGTH, SECRETS_FILE_PREFIX } from './test-logs.js';

export interface RecordedSecret {
  source: string;
  secret: string;
}

export interface Leak {
  file: string;
  /** 1-based. */
  line: number;
  source: string;
  /** The secret with its middle masked, enough to tell which one it was. */
  secret: string;
  /** The line around the secret, the secret masked. */
  excerpt: string;
}

export interface ScanReport {
  logFiles: number;
  lines: number;
  secrets: number;
  leaks: Leak[];
}

export function recordedSecrets(dir: string): RecordedSecret[] {
  const bySecret = new Map<string, RecordedSecret>();
  for (const name of readdirSync(dir).filter((n) => n.startsWith(SECRETS_FILE_PREFIX) && n.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const entry = JSON.parse(line) as RecordedSecret;
      if (entry.secret.length >= MIN_SCANNED_SECRET_LENGTH && !bySecret.has(entry.secret)) bySecret.set(entry.secret, entry);
    }
  }
  return [...bySecret.values()];
}

export function mask(secret: string): string {
  return secret.length <= 6 ? '*'.repeat(secret.length) : `${secret.slice(0, 3)}${'*'.repeat(secret.length - 6)}${secret.slice(-3)}`;
}

/** The forms a secret takes in a log line: as is, JSON-escaped, percent-encoded. */
function forms(secret: string): string[] {
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)])];
}

export function scanLogs(dir: string, secrets: readonly RecordedSecret[] = recordedSecrets(dir)): ScanReport {
  const report: ScanReport = { logFiles: 0, lines: 0, secrets: secrets.length, leaks: [] };
  const needles = secrets.flatMap((s) => forms(s.secret).map((form) => ({ form, entry: s })));
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.log')).sort()) {
    let text: string;
    try {
      text = readFileSync(join(dir, name), 'utf8');
    } catch (err) {
      // A link to a bench server's log that was removed since: nothing left to leak.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    report.logFiles++;
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (line === '') return;
      report.lines++;
      for (const { form, entry } of needles) {
        const at = line.indexOf(form);
        if (at < 0) continue;
        const excerpt = `${line.slice(Math.max(0, at - 80), at)}${mask(form)}${line.slice(at + form.length, at + form.length + 80)}`;
        report.leaks.push({ file: name, line: i + 1, source: entry.source, secret: mask(entry.secret), excerpt });
      }
    });
  }
  return report;
}
