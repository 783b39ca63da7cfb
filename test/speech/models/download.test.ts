/**
 * pullModel against a real local Hugging Face look-alike: a `node:http` "hub" serving files from a
 * temp folder under `/{repo}/resolve/main/{path}` (small files answered directly with their git
 * blob id as ETag, large ones redirected to a second "CDN" server with the sha256 in
 * X-Linked-Etag, as the Hub does for LFS), with Range support and a few switchable faults that a
 * real server can really produce (ignoring Range, dropping or stalling a connection).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { DownloadError, pullModel, type PullProgress } from '../../../src/speech/models/download.js';
import type { ModelInfo } from '../../../src/speech/models/registry.js';

const REPO = 'test-org/tiny-model';

interface Served {
  body: Buffer;
  sha256: string;
  gitSha1: string;
  /** Served through a redirect to the CDN, like Hub LFS files. */
  lfs: boolean;
}

type Fault = 'drop-half' | 'stall-half' | 'wrong-hash';

interface LogEntry {
  server: 'hub' | 'cdn';
  path: string;
  range: string | undefined;
  status: number;
}

class FakeHub {
  readonly files = new Map<string, Served>();
  readonly log: LogEntry[] = [];
  readonly faults = new Map<string, Fault>();
  ignoreRange = false;
  private root = '';
  private hub!: Server;
  private cdn!: Server;
  hubUrl = '';
  cdnUrl = '';

  async start(): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'sori-hub-'));
    this.hub = createServer((req, res) => void this.handleHub(req, res));
    this.cdn = createServer((req, res) => void this.handleCdn(req, res));
    this.hubUrl = await listen(this.hub);
    this.cdnUrl = await listen(this.cdn);
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    await rm(this.root, { recursive: true, force: true });
  }

  /** Writes a real file into the served tree. */
  async add(path: string, body: Buffer, lfs: boolean): Promise<Served> {
    const onDisk = join(this.root, REPO, path);
    await mkdir(dirname(onDisk), { recursive: true });
    await writeFile(onDisk, body);
    const served: Served = {
      body,
      sha256: sha256(body),
      gitSha1: createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex'),
      lfs,
    };
    this.files.set(path, served);
    return served;
  }

  requestsFor(path: string): LogEntry[] {
    const served = this.files.get(path);
    return this.log.filter((e) => e.path === `/${REPO}/resolve/main/${path}` || (served && e.path === `/cdn/${served.sha256}`));
  }

  private async handleHub(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const prefix = `/${REPO}/resolve/main/`;
    const path = url.startsWith(prefix) ? decodeURIComponent(url.slice(prefix.length)) : undefined;
    const served = path === undefined ? undefined : this.files.get(path);
    const entry: LogEntry = { server: 'hub', path: url, range: req.headers.range, status: 0 };
    this.log.push(entry);
    if (!served || path === undefined) {
      entry.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    const announced = this.faults.get(path) === 'wrong-hash' ? sha256(Buffer.from('something else')) : served.sha256;
    if (served.lfs) {
      entry.status = 302;
      res
        .writeHead(302, {
          location: `${this.cdnUrl}/cdn/${served.sha256}`,
          'x-linked-etag': `"${announced}"`,
          'x-linked-size': String(served.body.length),
          etag: `"${announced}"`,
        })
        .end();
      return;
    }
    await this.sendFile(req, res, entry, path, served, `"${served.gitSha1}"`);
  }

  private async handleCdn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const entry: LogEntry = { server: 'cdn', path: url, range: req.headers.range, status: 0 };
    this.log.push(entry);
    const found = [...this.files.entries()].find(([, s]) => url === `/cdn/${s.sha256}`);
    if (!found) {
      entry.status = 404;
      res.writeHead(404).end();
      return;
    }
    // A CDN's ETag is its own business (here a hash of something else): the client must not use it.
    await this.sendFile(req, res, entry, found[0], found[1], `"${sha256(Buffer.from(`cdn:${url}`))}"`);
  }

  private async sendFile(req: IncomingMessage, res: ServerResponse, entry: LogEntry, path: string, served: Served, etag: string): Promise<void> {
    const size = served.body.length;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    const headers: Record<string, string> = { etag, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (m && !this.ignoreRange) {
      start = Number(m[1]);
      if (m[2]) end = Math.min(Number(m[2]), size - 1);
      if (start >= size) {
        entry.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['content-length'] = String(end - start + 1);
    entry.status = status;
    res.writeHead(status, headers);
    const fault = this.faults.get(path);
    if (fault === 'drop-half' || fault === 'stall-half') {
      const half = start + Math.floor((end - start + 1) / 2);
      // Drop: the connection ends after half the body, once that half has left (a destroy right
      // after the write could discard it unsent, and the client would keep nothing to resume).
      res.write(served.body.subarray(start, half), () => {
        if (fault === 'drop-half') res.socket?.end();
      });
      return; // stall: the connection stays open until the client gives up
    }
    createReadStream(join(this.root, REPO, path), { start, end }).pipe(res);
  }
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function hubUrl(path: string): string {
  return `https://huggingface.co/${REPO}/resolve/main/${path}`;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1)).sort();
}

describe('pullModel', () => {
  const hub = new FakeHub();
  let config: Served;
  let onnx: Served;
  let weights: Served;
  let modelsDir = '';
  let model: ModelInfo;

  before(async () => {
    await hub.start();
    config = await hub.add('config.json', Buffer.from(JSON.stringify({ model_type: 'whisper', d_model: 384 })), false);
    onnx = await hub.add('onnx/model.onnx', randomBytes(300_000), true);
    weights = await hub.add('weights.bin', randomBytes(120_000), true);
    model = {
      name: 'tiny-test',
      kind: 'asr',
      description: 'test model',
      licence: 'MIT',
      approxBytes: 420_000,
      upstream: `https://huggingface.co/${REPO}`,
      files: [
        { path: 'config.json', url: hubUrl('config.json') },
        { path: 'onnx/model.onnx', url: hubUrl('onnx/model.onnx') },
        { path: 'weights.bin', url: hubUrl('weights.bin'), sha256: weights.sha256, size: weights.body.length },
        { path: 'extra.json', url: hubUrl('extra.json'), optional: true },
      ],
    };
  });

  after(async () => {
    await hub.stop();
  });

  beforeEach(async () => {
    if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
    modelsDir = await mkdtemp(join(tmpdir(), 'sori-models-'));
    hub.log.length = 0;
    hub.faults.clear();
    hub.ignoreRange = false;
  });

  after(async () => {
    if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
  });

  test('downloads every file, verifies it and renames it into place', async () => {
    const progress: PullProgress[] = [];
    const result = await pullModel(model, { modelsDir, mirror: hub.hubUrl, onProgress: (p) => progress.push(p) });

    const dir = join(modelsDir, 'tiny-test');
    assert.equal(result.dir, dir);
    const byPath = new Map(result.files.map((f) => [f.path, f]));
    assert.deepEqual(
      result.files.map((f) => [f.path, f.status, f.verified]),
      [
        ['config.json', 'downloaded', 'hub-git-sha1'],
        ['onnx/model.onnx', 'downloaded', 'hub-sha256'],
        ['weights.bin', 'downloaded', 'sha256'],
        ['extra.json', 'skipped', 'none'],
      ],
    );
    assert.equal(byPath.get('onnx/model.onnx')?.bytes, onnx.body.length);
    assert.deepEqual(await readFile(join(dir, 'config.json')), config.body);
    assert.deepEqual(await readFile(join(dir, 'onnx/model.onnx')), onnx.body);
    assert.deepEqual(await readFile(join(dir, 'weights.bin')), weights.body);
    // Atomic rename: only final files remain, no .part, and nothing for the skipped optional file.
    assert.deepEqual(await listFiles(dir), ['config.json', 'onnx/model.onnx', 'weights.bin']);

    const last = progress.filter((p) => p.file === 'onnx/model.onnx').at(-1);
    assert.deepEqual(last, { file: 'onnx/model.onnx', received: onnx.body.length, total: onnx.body.length });
  });

  test('follows the Hub redirect to the CDN and trusts only the Hub hop for the hash', async () => {
    await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    const hops = hub.requestsFor('onnx/model.onnx');
    assert.deepEqual(
      hops.map((h) => [h.server, h.status]),
      [
        ['hub', 302],
        ['cdn', 200],
      ],
    );
  });

  test('skips files that are already present and correct', async () => {
    await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    hub.log.length = 0;
    const again = await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    assert.deepEqual(
      again.files.map((f) => [f.path, f.status]),
      [
        ['config.json', 'present'],
        ['onnx/model.onnx', 'present'],
        ['weights.bin', 'present'],
        ['extra.json', 'skipped'],
      ],
    );
    // A registry hash needs no network at all; Hub-hashed files only need the Hub's headers.
    assert.equal(hub.requestsFor('weights.bin').length, 0);
    assert.ok(hub.requestsFor('onnx/model.onnx').every((h) => h.server === 'hub'));
  });

  test('keeps files already present when the host cannot be reached', async () => {
    await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    const closed = createServer();
    const url = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));

    const offline = await pullModel(model, { modelsDir, mirror: url });
    assert.deepEqual(
      offline.files.map((f) => [f.path, f.status, f.verified]),
      [
        ['config.json', 'present', 'none'],
        ['onnx/model.onnx', 'present', 'none'],
        ['weights.bin', 'present', 'sha256'],
        ['extra.json', 'skipped', 'none'],
      ],
    );
    assert.match(offline.files[0]?.note ?? '', /^kept without checking: could not reach 127\.0\.0\.1:\d+$/);
  });

  test('resumes from an existing .part with a Range request', async () => {
    const dir = join(modelsDir, 'tiny-test');
    await mkdir(join(dir, 'onnx'), { recursive: true });
    await writeFile(join(dir, 'onnx/model.onnx.part'), onnx.body.subarray(0, 100_000));

    const result = await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    const file = result.files.find((f) => f.path === 'onnx/model.onnx');
    assert.equal(file?.resumedFrom, 100_000);
    assert.equal(file?.verified, 'hub-sha256');
    const cdn = hub.requestsFor('onnx/model.onnx').filter((h) => h.server === 'cdn');
    assert.deepEqual(
      cdn.map((h) => [h.range, h.status]),
      [['bytes=100000-', 206]],
    );
    assert.equal(sha256(await readFile(join(dir, 'onnx/model.onnx'))), onnx.sha256);
    assert.equal(existsSync(join(dir, 'onnx/model.onnx.part')), false);
  });

  test('restarts cleanly when the server ignores Range and sends the whole file', async () => {
    hub.ignoreRange = true;
    const dir = join(modelsDir, 'tiny-test');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'weights.bin.part'), weights.body.subarray(0, 50_000));

    const result = await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    const file = result.files.find((f) => f.path === 'weights.bin');
    assert.equal(file?.resumedFrom, undefined);
    assert.equal(file?.bytes, weights.body.length);
    const cdn = hub.requestsFor('weights.bin').filter((h) => h.server === 'cdn');
    assert.deepEqual(
      cdn.map((h) => [h.range, h.status]),
      [['bytes=50000-', 200]],
    );
    assert.deepEqual(await readFile(join(dir, 'weights.bin')), weights.body);
  });

  test('starts over when a resumed .part turns out not to match', async () => {
    const dir = join(modelsDir, 'tiny-test');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'weights.bin.part'), randomBytes(40_000)); // e.g. from an older upstream version

    const result = await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    assert.equal(result.files.find((f) => f.path === 'weights.bin')?.status, 'downloaded');
    const cdn = hub.requestsFor('weights.bin').filter((h) => h.server === 'cdn');
    assert.deepEqual(
      cdn.map((h) => [h.range, h.status]),
      [
        ['bytes=40000-', 206],
        [undefined, 200],
      ],
    );
    assert.deepEqual(await readFile(join(dir, 'weights.bin')), weights.body);
  });

  test('starts over when the .part is already as long as the file (HTTP 416)', async () => {
    const dir = join(modelsDir, 'tiny-test');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json.part'), config.body);

    const result = await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    assert.equal(result.files.find((f) => f.path === 'config.json')?.verified, 'hub-git-sha1');
    assert.deepEqual(
      hub.requestsFor('config.json').map((h) => h.status),
      [416, 200],
    );
    assert.deepEqual(await readFile(join(dir, 'config.json')), config.body);
  });

  test('a wrong registry hash fails clearly and leaves neither the file nor the .part', async () => {
    const bad: ModelInfo = {
      ...model,
      files: [{ path: 'weights.bin', url: hubUrl('weights.bin'), sha256: sha256(Buffer.from('not these bytes')) }],
    };
    await assert.rejects(pullModel(bad, { modelsDir, mirror: hub.hubUrl }), (err: unknown) => {
      assert.ok(err instanceof DownloadError);
      assert.equal(err.code, 'checksum');
      assert.match(err.message, /Checksum mismatch for tiny-test\/weights\.bin/);
      return true;
    });
    const dir = join(modelsDir, 'tiny-test');
    assert.equal(existsSync(join(dir, 'weights.bin')), false);
    assert.equal(existsSync(join(dir, 'weights.bin.part')), false);
  });

  test('a hash announced by the Hub that does not match fails too', async () => {
    hub.faults.set('onnx/model.onnx', 'wrong-hash');
    await assert.rejects(pullModel(model, { modelsDir, mirror: hub.hubUrl }), { name: 'DownloadError', code: 'checksum' });
    assert.equal(existsSync(join(modelsDir, 'tiny-test', 'onnx/model.onnx')), false);
    assert.equal(existsSync(join(modelsDir, 'tiny-test', 'onnx/model.onnx.part')), false);
  });

  test('a missing required file is a 404 error naming the URL', async () => {
    const gone: ModelInfo = { ...model, files: [{ path: 'onnx/gone.onnx', url: hubUrl('onnx/gone.onnx') }] };
    await assert.rejects(pullModel(gone, { modelsDir, mirror: hub.hubUrl }), (err: unknown) => {
      assert.ok(err instanceof DownloadError);
      assert.equal(err.code, 'not-found');
      assert.ok(err.message.includes(`${hub.hubUrl}/${REPO}/resolve/main/onnx/gone.onnx`), err.message);
      assert.match(err.message, /404/);
      return true;
    });
  });

  test('an unreachable host says the machine may be offline and how to copy the model instead', async () => {
    const closed = createServer();
    const url = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));

    await assert.rejects(pullModel(model, { modelsDir, mirror: url }), (err: unknown) => {
      assert.ok(err instanceof DownloadError);
      assert.equal(err.code, 'offline');
      assert.match(err.message, new RegExp(`Could not reach ${url.slice('http://'.length).replace(/\./g, '\\.')}`));
      assert.match(err.message, /ECONNREFUSED/);
      assert.match(err.message, /may be offline/);
      assert.match(err.message, /copy the tiny-test model folder into .*SORI_MODELS_DIR/);
      return true;
    });
  });

  test('a dropped connection keeps the .part, and the next pull resumes from it', async () => {
    hub.faults.set('onnx/model.onnx', 'drop-half');
    await assert.rejects(pullModel(model, { modelsDir, mirror: hub.hubUrl }), { name: 'DownloadError', code: 'interrupted' });
    const part = join(modelsDir, 'tiny-test', 'onnx/model.onnx.part');
    const kept = (await stat(part)).size;
    assert.ok(kept > 0 && kept < onnx.body.length, `kept ${kept} bytes`);

    hub.faults.clear();
    hub.log.length = 0;
    const result = await pullModel(model, { modelsDir, mirror: hub.hubUrl });
    assert.equal(result.files.find((f) => f.path === 'onnx/model.onnx')?.resumedFrom, kept);
    assert.equal(hub.requestsFor('onnx/model.onnx').find((h) => h.server === 'cdn')?.range, `bytes=${kept}-`);
    assert.equal(sha256(await readFile(join(modelsDir, 'tiny-test', 'onnx/model.onnx'))), onnx.sha256);
  });

  test('aborting stops the transfer and keeps the .part', async () => {
    hub.faults.set('onnx/model.onnx', 'stall-half');
    const ac = new AbortController();
    const pull = pullModel(model, {
      modelsDir,
      mirror: hub.hubUrl,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.file === 'onnx/model.onnx' && p.received > 0) ac.abort();
      },
    });
    await assert.rejects(pull, { name: 'AbortError' });
    assert.equal(existsSync(join(modelsDir, 'tiny-test', 'onnx/model.onnx.part')), true);
    assert.equal(existsSync(join(modelsDir, 'tiny-test', 'onnx/model.onnx')), false);
  });

  test('a model that must be copied by hand fails before any request', async () => {
    const manual: ModelInfo = { ...model, manual: 'no public download', files: [{ path: 'secret.onnx' }, model.files[0]] };
    await assert.rejects(pullModel(manual, { modelsDir, mirror: hub.hubUrl }), (err: unknown) => {
      assert.ok(err instanceof DownloadError);
      assert.equal(err.code, 'manual');
      assert.match(err.message, /secret\.onnx: no public download/);
      assert.match(err.message, /Copy the tiny-test folder into /);
      return true;
    });
    assert.equal(hub.log.length, 0);
  });

  test('rejects a model entry whose file path escapes the model folder', async () => {
    const evil: ModelInfo = { ...model, files: [{ path: '../escape.bin', url: hubUrl('weights.bin') }] };
    await assert.rejects(pullModel(evil, { modelsDir, mirror: hub.hubUrl }), { name: 'ZodError' });
    assert.equal(hub.log.length, 0);
  });
});
