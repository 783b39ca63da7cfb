import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfig, settingKey, settingLeaves, settingsSchema, unwrapSetting } from '../src/config.js';
import { tempDirs } from './helpers/temp-dirs.js';
import {
  DOCS_FILE,
  EXAMPLE_FILE,
  generatedPart,
  renderExampleYaml,
  renderMarkdownReference,
  updateMarkdown,
} from '../src/config-reference.js';

const repo = fileURLToPath(new URL('../', import.meta.url));
const STALE = 'out of date: run `npm run config:docs` and commit the result';

const { fresh: freshDir } = tempDirs('sori-config-reference-');

describe('configuration reference', () => {
  it(`${DOCS_FILE} has the tables the schema renders`, async () => {
    const doc = await readFile(path.join(repo, DOCS_FILE), 'utf8');
    const part = generatedPart(doc);
    assert.ok(part !== undefined, `${DOCS_FILE} lost its generated-part markers`);
    assert.equal(part, renderMarkdownReference(), `${DOCS_FILE} is ${STALE}`);
    assert.equal(updateMarkdown(doc), doc, `${DOCS_FILE} is ${STALE}`);
  });

  it(`${EXAMPLE_FILE} is the one the schema renders`, async () => {
    const example = await readFile(path.join(repo, EXAMPLE_FILE), 'utf8');
    assert.equal(example, renderExampleYaml(), `${EXAMPLE_FILE} is ${STALE}`);
  });

  it('the tables have a row for every setting and every variable', () => {
    const doc = renderMarkdownReference();
    for (const leaf of settingLeaves()) {
      assert.ok(doc.includes(`| \`${settingKey(leaf.path)}\` |`), `no row for ${settingKey(leaf.path)}`);
      if (leaf.meta?.env !== undefined) assert.ok(doc.includes(`| \`${leaf.meta.env}\``), `no row for ${leaf.meta.env}`);
    }
  });

  it(`loading ${EXAMPLE_FILE} gives the defaults`, async () => {
    const cwd = await freshDir();
    const env = { SORI_API_KEY: 'k' };
    const defaults = await loadConfig(env, { cwd, announce: () => {} });
    await writeFile(path.join(cwd, 'sori.yaml'), await readFile(path.join(repo, EXAMPLE_FILE), 'utf8'));
    const fromExample = await loadConfig(env, { cwd, announce: () => {} });
    assert.equal(fromExample.configFile, path.join(cwd, 'sori.yaml'));
    assert.deepEqual({ ...fromExample, configFile: null }, defaults);
  });

  it('every setting has a description, and one without a default an example that is valid', async () => {
    for (const leaf of settingLeaves()) {
      const key = settingKey(leaf.path);
      assert.ok((leaf.meta?.description ?? '') !== '', `${key} has no description`);
      if (leaf.default === undefined || leaf.meta?.defaultText !== undefined) {
        assert.ok(leaf.meta?.example !== undefined, `${key} has neither a default nor an example`);
      }
      if (leaf.meta?.example !== undefined) {
        const parsed = leaf.inner.safeParse(leaf.meta.example);
        assert.ok(parsed.success, `${key}'s example ${JSON.stringify(leaf.meta.example)} is not valid: ${parsed.error?.message}`);
      }
    }
  });

  it('the commented-out examples, all taken together, load', async () => {
    // What an operator gets uncommenting everything in config.example.yaml.
    const tree: Record<string, unknown> = {};
    const domain: Record<string, unknown> = {};
    for (const leaf of settingLeaves()) {
      const value = leaf.meta?.example ?? leaf.default?.value;
      const list = leaf.path.indexOf('[]');
      let node = list < 0 ? tree : domain;
      const keys = list < 0 ? leaf.path : leaf.path.slice(list + 1);
      for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
      node[keys[keys.length - 1]] = value;
    }
    const domains = unwrapSetting(settingsSchema.shape.domains);
    tree.domains = [domain, ...(domains.meta?.moreExamples?.items ?? [])];
    const cwd = await freshDir();
    await writeFile(path.join(cwd, 'sori.json'), JSON.stringify(tree));
    const config = await loadConfig({}, { cwd, announce: () => {} });
    assert.deepEqual(config.domains.map((d) => d.name), ['general', 'callcenter']);
    assert.equal(config.objectStorage?.bucket, 'my-bucket');
    assert.deepEqual(config.server.grpcTls, { cert: path.join(cwd, 'tls/cert.pem'), key: path.join(cwd, 'tls/key.pem') });
  });
});
