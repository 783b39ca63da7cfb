/**
 * The last step of `npm test`: no secret the tests used may appear in any log line the run
 * wrote (test/helpers/test-logs.ts writes them, test/helpers/log-scan.ts scans). Fails, too,
 * when the run directory holds no logs or no secrets: then the suites did not write them and
 * nothing was checked.
 *
 *   node --import tsx test/check-logs.ts [run dir]     (default: $SORI_TEST_LOG_DIR, else .test-logs)
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { scanLogs } from './helpers/log-scan.js';
import { TEST_LOG_DIR_ENV } from './helpers/test-logs.js';

const dir = resolve(process.argv[2] ?? process.env[TEST_LOG_DIR_ENV] ?? '.test-logs');
if (!existsSync(dir)) {
  process.stderr.write(`check-logs: no run directory ${dir}: run the suites with ${TEST_LOG_DIR_ENV} set (npm test does)\n`);
  process.exit(1);
}
const report = scanLogs(dir);
const summary = `${report.lines} log lines in ${report.logFiles} files, ${report.secrets} secrets (${dir})`;
if (report.logFiles === 0 || report.lines === 0 || report.secrets === 0) {
  process.stderr.write(`check-logs: nothing to check: ${summary}\n`);
  process.exit(1);
}
if (report.leaks.length > 0) {
  process.stderr.write(`check-logs: ${report.leaks.length} secret(s) found in the logs: ${summary}\n`);
  for (const leak of report.leaks.slice(0, 50)) {
    process.stderr.write(`  ${leak.file}:${leak.line}: ${leak.source} secret ${leak.secret}: ...${leak.excerpt}...\n`);
  }
  process.exit(1);
}
process.stdout.write(`check-logs: no secret in ${summary}\n`);
