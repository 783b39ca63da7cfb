import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withRequestContext } from '../../../src/speech/whisper/host.js';

test("shortRequestContext gives short requests the audio's own context, and nothing else", () => {
  assert.equal(withRequestContext({ priority: 'short' }, true).shortContext, true);
  // No priority is a short request (the engine's default class).
  assert.equal(withRequestContext({}, true).shortContext, true);
  assert.equal(withRequestContext({ priority: 'short' }, false).shortContext, undefined);
  for (const priority of ['stream', 'partial', 'batch'] as const) assert.equal(withRequestContext({ priority }, true).shortContext, undefined);
  // What the caller said wins; assessment keeps the window its figures were measured on.
  assert.equal(withRequestContext({ priority: 'short', shortContext: false }, true).shortContext, false);
  assert.equal(withRequestContext({ priority: 'short', assessment: { text: 'hello' } }, true).shortContext, undefined);
});
