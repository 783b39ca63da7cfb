import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../src/logger.js';
import { logDestination, registerSecrets } from './helpers/test-logs.js';

describe('createLogger', () => {
  it('redacts secrets wherever a logged object carries them', () => {
    const lines: string[] = [];
    // Into the run's logs too, with the secrets, so the final scan checks these lines as well.
    registerSecrets('logger test', ...Array.from({ length: 8 }, (_, i) => `SECRET-${i + 1}`));
    const logger = createLogger({ level: 'info', destination: logDestination('logger-test', (line) => void lines.push(line)) });
    logger.info({ req: { headers: { 'x-clovaspeech-api-key': 'SECRET-1', authorization: 'Bearer SECRET-2', host: 'h' } } }, 'a request');
    logger.info({ headers: { 'x-clovaspeech-api-key': 'SECRET-3', authorization: 'Bearer SECRET-4' } }, 'headers');
    logger.info({ config: { domains: [{ name: 'general', secret: 'SECRET-5' }] } }, 'config');
    logger.info({ domain: { name: 'general', secret: 'SECRET-6', previousSecrets: ['SECRET-7'] } }, 'domain');
    logger.info({ config: { domains: [{ name: 'general', secret: 'x', previousSecrets: ['SECRET-8'] }] } }, 'config');
    const text = lines.join('');
    for (let i = 1; i <= 8; i++) assert.ok(!text.includes(`SECRET-${i}`), `SECRET-${i} leaked: ${text}`);
    assert.equal(lines.length, 5, 'one line per event');
    assert.ok(text.includes('"host":"h"'), 'everything else is kept');
    assert.ok(text.includes('"name":"general"'));
  });
});
