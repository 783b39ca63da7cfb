import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainAuthenticator } from '../../src/domains/auth.js';
import type { DomainConfig } from '../../src/config.js';

const limits = { shortMaxSeconds: 60, shortMaxBytes: 10 * 1024 * 1024, maxConcurrentStreams: 15, requestsPerSecond: 0, maxConcurrentUploads: 16 };
const general: DomainConfig = { name: 'general', secret: 'secret-general', defaultLanguage: 'ko', limits };
const other: DomainConfig = { name: 'other', secret: 'secret-other', defaultLanguage: 'en', limits };

describe('DomainAuthenticator', () => {
  const auth = new DomainAuthenticator([general, other]);

  it('maps each secret to its own domain', () => {
    assert.equal(auth.authenticate('secret-general'), general);
    assert.equal(auth.authenticate('secret-other'), other);
  });

  it('rejects missing, empty, wrong, prefix and repeated keys', () => {
    for (const key of [undefined, '', 'secret', 'secret-general ', 'SECRET-GENERAL', 'secret-generalx']) {
      assert.equal(auth.authenticate(key), undefined, `key ${JSON.stringify(key)}`);
    }
    // A header sent twice arrives as a list: ambiguous, so refused.
    assert.equal(auth.authenticate(['secret-general', 'secret-general']), undefined);
  });
});
