import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../src/logger.js';

describe('createLogger', () => {
  it('redacts secrets wherever a logged object carries them', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    logger.info({ req: { headers: { 'x-clovaspeech-api-key': 'SECRET-1', authorization: 'Bearer SECRET-2', host: 'h' } } }, 'a request');
    logger.info({ headers: { 'x-clovaspeech-api-key': 'SECRET-3', authorization: 'Bearer SECRET-4' } }, 'headers');
    logger.info({ config: { domains: [{ name: 'general', secret: 'SECRET-5' }] } }, 'config');
    logger.info({ domain: { name: 'general', secret: 'SECRET-6' } }, 'domain');
    const text = lines.join('');
    for (let i = 1; i <= 6; i++) assert.ok(!text.includes(`SECRET-${i}`), `SECRET-${i} leaked: ${text}`);
    assert.equal(lines.length, 4, 'one line per event');
    assert.ok(text.includes('"host":"h"'), 'everything else is kept');
    assert.ok(text.includes('"name":"general"'));
  });
});
