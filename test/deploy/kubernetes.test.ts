/**
 * deploy/kubernetes/ offline: every document parses and passes the Kubernetes API's own schemas
 * (kubernetes-models: the OpenAPI definitions of each kind compiled to validators; kubectl
 * needs an API server even for a client-side dry run), the objects refer to each other
 * correctly, and a node started with the ConfigMap, the example Secret and the image's ENV
 * accepts its settings (src/config.ts, as main.ts loads them).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Job } from 'kubernetes-models/batch/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
// The serializer is not exported from the package's root; its module has no side effects.
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { DEPLOY, DRAIN_SECONDS, imageEnv, PEAK_RSS_BYTES } from './deploy-files.js';

const DIR = join(DEPLOY, 'kubernetes');

interface Doc {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const VALIDATORS: Record<string, (doc: never) => { validate(): void }> = {
  'apps/v1/Deployment': (d) => new Deployment(d),
  'v1/Service': (d) => new Service(d),
  'v1/ConfigMap': (d) => new ConfigMap(d),
  'v1/Secret': (d) => new Secret(d),
  'v1/PersistentVolumeClaim': (d) => new PersistentVolumeClaim(d),
  'policy/v1/PodDisruptionBudget': (d) => new PodDisruptionBudget(d),
  'batch/v1/Job': (d) => new Job(d),
};

let docs: Doc[] = [];
let files: string[] = [];
let tmp: string;
const one = (kind: string, name?: string): Doc => {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}`);
  return found[0];
};

/** Kubernetes quantities as bytes (Mi, Gi, M, G). */
function bytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(q);
  assert.ok(m, `quantity ${q}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sori-k8s-'));
  files = (await readdir(DIR)).filter((f) => f.endsWith('.yaml')).sort();
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(DIR, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      const value = doc.toJS() as Doc | null;
      if (value !== null) docs.push({ ...value, file });
    }
  }
});

after(() => rm(tmp, { recursive: true, force: true }));

/**
 * Keys of `doc` that @kubernetes/client-node's model of its kind does not have: the API server
 * would drop them with a warning (a misspelt `readinesProbe` leaves the pod without readiness).
 * The client's models are generated from the same OpenAPI definitions; a round trip through
 * one keeps exactly the keys the kind defines. The JSON schemas above check types only.
 */
function unknownFields(doc: Omit<Doc, 'file'>): string[] {
  const type = `V1${doc.kind}`;
  const back: unknown = ObjectSerializer.serialize(ObjectSerializer.deserialize(doc, type), type);
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (Array.isArray(a)) a.forEach((v, i) => walk(v, Array.isArray(b) ? b[i] : undefined, `${path}[${i}]`));
    else if (a !== null && typeof a === 'object') {
      for (const [k, v] of Object.entries(a)) {
        const bv = b !== null && typeof b === 'object' ? (b as Record<string, unknown>)[k] : undefined;
        if (bv === undefined) out.push(`${path}.${k}`);
        else walk(v, bv, `${path}.${k}`);
      }
    }
  };
  walk(doc, back, '');
  return out;
}

describe('deploy/kubernetes', () => {
  it('every document is a kind the API knows and passes its schema', () => {
    assert.ok(docs.length >= 7);
    for (const doc of docs) {
      if (doc.kind === 'Kustomization') continue;
      const make = VALIDATORS[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(make, `${doc.file}: ${doc.apiVersion} ${doc.kind} is expected here`);
      assert.ok(doc.metadata?.name, `${doc.file}: ${doc.kind} has a name`);
      assert.doesNotThrow(() => make(doc as never).validate(), `${doc.file}: ${doc.kind} ${doc.metadata.name}`);
    }
  });

  it('the schemas are really checked: a wrong type is refused', () => {
    const bad = structuredClone(one('Deployment')) as unknown as { spec: { replicas: unknown } };
    bad.spec.replicas = 'three';
    assert.throws(() => new Deployment(bad as never).validate(), /replicas/);
  });

  it('has no field the API would drop: every key is one its model of that kind knows (a misspelt one is caught)', () => {
    for (const doc of docs) {
      if (doc.kind === 'Kustomization') continue;
      const { file, ...object } = doc;
      assert.deepEqual(unknownFields(object), [], `${file}: ${doc.kind} ${doc.metadata.name}`);
    }
    const typo = structuredClone(one('Deployment')) as unknown as { file?: string; spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    delete typo.file;
    typo.spec.template.spec.containers[0].readinesProbe = { httpGet: { path: '/healthz', port: 8080 } };
    assert.deepEqual(unknownFields(typo as unknown as Omit<Doc, 'file'>), ['.spec.template.spec.containers[0].readinesProbe']);
  });

  it('the kustomization lists every manifest but the example Secret', () => {
    const k = one('Kustomization') as unknown as { resources: string[] };
    assert.deepEqual([...k.resources].sort(), files.filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml').sort());
  });

  it('three replicas behind a Service with HTTP and gRPC, one disruption at a time', () => {
    const dep = one('Deployment', 'sori') as unknown as Deployment;
    const labels = dep.spec!.template.metadata!.labels!;
    assert.equal(dep.spec!.replicas, 3);
    assert.deepEqual(dep.spec!.selector.matchLabels, labels);
    const svc = one('Service', 'sori') as unknown as Service;
    assert.deepEqual(svc.spec!.selector, labels);
    const container = dep.spec!.template.spec!.containers[0];
    const portNames = new Map(container.ports!.map((p) => [p.name, p.containerPort]));
    assert.deepEqual([...portNames.entries()], [['http', 8080], ['grpc', 50051]]);
    for (const p of svc.spec!.ports!) assert.ok(portNames.has(String(p.targetPort)), `Service port ${p.name} targets a container port`);
    assert.deepEqual(svc.spec!.ports!.map((p) => p.name), ['http', 'grpc']);
    const pdb = one('PodDisruptionBudget') as unknown as PodDisruptionBudget;
    assert.deepEqual(pdb.spec!.selector!.matchLabels, labels);
    assert.equal(pdb.spec!.maxUnavailable, 1);
    assert.equal(dep.spec!.strategy!.rollingUpdate!.maxUnavailable, 0, 'a rollout never drops below three ready pods');
  });

  it('probes /healthz, and leaves the drain its time after the preStop pause', () => {
    const dep = one('Deployment', 'sori') as unknown as Deployment;
    const pod = dep.spec!.template.spec!;
    const c = pod.containers[0];
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
      assert.equal(probe?.httpGet?.path, '/healthz');
      assert.equal(probe?.httpGet?.port, 'http');
    }
    const preStop = c.lifecycle!.preStop!.exec!.command!;
    assert.equal(preStop[0], 'sleep');
    assert.ok(pod.terminationGracePeriodSeconds! >= Number(preStop[1]) + DRAIN_SECONDS, `grace ${pod.terminationGracePeriodSeconds} s`);
    // Model loading may take minutes: the startup probe covers it before liveness applies.
    const s = c.startupProbe!;
    assert.ok(s.periodSeconds! * s.failureThreshold! >= 120);
  });

  it('requests at least the peak RSS of a node, and models come from a read-only volume', () => {
    const dep = one('Deployment', 'sori') as unknown as Deployment;
    const pod = dep.spec!.template.spec!;
    const c = pod.containers[0];
    assert.ok(bytes(String(c.resources!.requests!.memory)) >= PEAK_RSS_BYTES, 'memory request >= peak RSS');
    assert.ok(bytes(String(c.resources!.limits!.memory)) > bytes(String(c.resources!.requests!.memory)));
    const models = c.volumeMounts!.find((m) => m.mountPath === '/models');
    assert.equal(models?.readOnly, true);
    const volume = pod.volumes!.find((v) => v.name === models!.name)!;
    one('PersistentVolumeClaim', volume.persistentVolumeClaim!.claimName);
    assert.equal(pod.securityContext!.runAsNonRoot, true);
    assert.equal(c.securityContext!.readOnlyRootFilesystem, true);
    for (const path of ['/var/lib/sori', '/tmp']) assert.ok(c.volumeMounts!.some((m) => m.mountPath === path), `${path} is writable`);
  });

  it('a node starts with the ConfigMap, the Secret and the image: PostgreSQL, the bucket, the proxy trusted', async () => {
    const dep = one('Deployment', 'sori') as unknown as Deployment;
    const c = dep.spec!.template.spec!.containers[0];
    const cm = one('ConfigMap', c.envFrom!.find((e) => e.configMapRef)!.configMapRef!.name) as unknown as ConfigMap;
    const secret = one('Secret', c.envFrom!.find((e) => e.secretRef)!.secretRef!.name) as unknown as Secret;
    const configVolume = dep.spec!.template.spec!.volumes!.find((v) => v.configMap)!;
    assert.equal(configVolume.configMap!.name, cm.metadata!.name);
    const mount = c.volumeMounts!.find((m) => m.name === configVolume.name)!;
    assert.equal(cm.data!.SORI_CONFIG, `${mount.mountPath}/${configVolume.configMap!.items![0].path}`);

    // The mounted file, where this test can read it.
    const file = join(tmp, 'sori.yaml');
    await writeFile(file, cm.data!['sori.yaml']);
    const env: NodeJS.ProcessEnv = { ...(await imageEnv()), ...cm.data, ...secret.stringData, SORI_CONFIG: file, SORI_DATA_DIR: tmp };
    for (const key of Object.keys(env)) if (key !== 'sori.yaml') assert.match(key, /^(SORI_|NODE_ENV$|ONNXRUNTIME_)/);
    delete env['sori.yaml'];
    const config = await loadConfig(env, { announce: () => undefined });
    assert.equal(config.database.url, secret.stringData!.SORI_DATABASE_URL);
    assert.equal(config.objectStorage?.bucket, 'sori');
    assert.equal(config.server.host, '0.0.0.0');
    assert.equal(config.models.dir, '/models');
    assert.deepEqual(config.server.trustProxy, ['10.0.0.0/8']);
    assert.equal(config.http.maxConnectionsPerAddress, 0);
    assert.equal(config.domains[0].secret, secret.stringData!.SORI_API_KEY);
  });
});
