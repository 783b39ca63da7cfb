import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LruCache } from '../../src/speech/lru-cache.js';

test('LruCache keeps the most recently used entries; a limit of 0 keeps none', async () => {
  const c = new LruCache<string, number>(2);
  c.set('a', 1);
  c.set('b', 2);
  assert.equal(c.get('a'), 1); // a is now the most recent
  c.set('c', 3); // evicts b
  assert.equal(c.get('b'), undefined);
  assert.equal(c.get('a'), 1);
  assert.equal(c.get('c'), 3);
  let made = 0;
  assert.equal(await c.getOrMake('c', async () => ++made), 3);
  assert.equal(await c.getOrMake('d', async () => ++made), 1);
  assert.equal(made, 1);
  c.delete('c');
  assert.equal(c.get('c'), undefined);
  assert.equal(c.size, 1, 'd alone is left');
  const none = new LruCache<string, number>(0);
  none.set('a', 1);
  assert.equal(none.get('a'), undefined);
});
