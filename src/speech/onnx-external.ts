/**
 * A model's large initializers moved to a data file beside it (ONNX external data), so ONNX
 * Runtime loads them from the file instead of from the model's bytes. Given inline, ORT holds
 * each weight twice while it builds a session and the heap keeps the freed copy's pages; from a
 * file it does not. Measured on Whisper base int8 (one session per process, after the load):
 * decoder +174 -> +90 MB, encoder +74 -> +50 MB, and a faster load.
 *
 * The files are a cache: named by a hash of the model's bytes, written once (atomically, so
 * workers starting together do not see half a file), reused by every later start and by every
 * inference process, and older versions of the same model are removed.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  concat, DATA_LOCATION_EXTERNAL, GRAPH_INITIALIZER, intField, lenField, MODEL_GRAPH, parseMessage, strField,
  STRING_ENTRY_KEY, STRING_ENTRY_VALUE, TENSOR_DATA_LOCATION, TENSOR_EXTERNAL_DATA, TENSOR_RAW_DATA,
} from './onnx-proto.js';

/** Initializers smaller than this stay inline: they cost little and would mostly be padding. */
export const MIN_EXTERNAL_BYTES = 64 * 1024;
/** Each tensor starts on this boundary, so ORT can map it (64 KiB: the largest mapping granularity, Windows'). */
const ALIGN = 64 * 1024;

export interface ExternalizedModel {
  /** The model file to load; its data file is beside it. */
  modelPath: string;
  dataPath: string;
  /** Initializers moved to the data file. */
  tensors: number;
}

/**
 * The model file for `model` (ONNX bytes) in `dir`, its main graph's initializers of at least
 * `minBytes` in a data file beside it; `name` prefixes both file names. Writes them unless this
 * exact model is already there. A model that already has external data is refused: its data
 * file is elsewhere.
 */
export function externalizedModel(model: Uint8Array, dir: string, name: string, minBytes = MIN_EXTERNAL_BYTES): ExternalizedModel {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`onnx-external: unsafe model name ${JSON.stringify(name)}`);
  const hash = createHash('sha256').update(model).digest('hex').slice(0, 16);
  const base = `${name}-${hash}`;
  const modelPath = join(dir, `${base}.onnx`);
  const dataPath = join(dir, `${base}.onnx_data`);
  const { graph, data, tensors } = splitInitializers(model, `${base}.onnx_data`, minBytes);
  if (!(existsSync(modelPath) && existsSync(dataPath) && statSync(dataPath).size === data.size)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `.${process.pid}-${Date.now()}.tmp`;
    try {
      writeChunks(dataPath + tmp, data.chunks);
      writeChunks(modelPath + tmp, [graph]);
      // The data first: a model file present means its data is complete.
      renameSync(dataPath + tmp, dataPath);
      renameSync(modelPath + tmp, modelPath);
    } finally {
      // A full disk stays no fuller for the attempt.
      rmSync(dataPath + tmp, { force: true });
      rmSync(modelPath + tmp, { force: true });
    }
  }
  removeOtherVersions(dir, name, base);
  return { modelPath, dataPath, tensors };
}

interface Split {
  /** The model's bytes with the moved initializers pointing at the data file. */
  graph: Uint8Array;
  data: { chunks: Uint8Array[]; size: number };
  tensors: number;
}

/** The model rewritten to read its large initializers from `location`, and that file's content. */
export function splitInitializers(model: Uint8Array, location: string, minBytes = MIN_EXTERNAL_BYTES): Split {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let tensors = 0;
  const top = parseMessage(model);
  const rebuilt = top.map((field) => {
    if (field.no !== MODEL_GRAPH) return field.raw;
    const graph = parseMessage(field.payload).map((g) => {
      if (g.no !== GRAPH_INITIALIZER) return g.raw;
      const tensor = parseMessage(g.payload);
      if (tensor.some((t) => t.no === TENSOR_DATA_LOCATION && t.value === DATA_LOCATION_EXTERNAL)) {
        throw new Error('onnx-external: the model already has external data');
      }
      const raw = tensor.find((t) => t.no === TENSOR_RAW_DATA);
      if (raw === undefined || raw.payload.length < minBytes) return g.raw;
      const pad = (ALIGN - (size % ALIGN)) % ALIGN;
      if (pad > 0) chunks.push(new Uint8Array(pad));
      const offset = size + pad;
      chunks.push(raw.payload);
      size = offset + raw.payload.length;
      tensors++;
      const entry = (key: string, value: string) => lenField(TENSOR_EXTERNAL_DATA, concat([strField(STRING_ENTRY_KEY, key), strField(STRING_ENTRY_VALUE, value)]));
      return lenField(GRAPH_INITIALIZER, concat([
        ...tensor.filter((t) => t.no !== TENSOR_RAW_DATA).map((t) => t.raw),
        entry('location', location),
        entry('offset', String(offset)),
        entry('length', String(raw.payload.length)),
        intField(TENSOR_DATA_LOCATION, DATA_LOCATION_EXTERNAL),
      ]));
    });
    return lenField(MODEL_GRAPH, concat(graph));
  });
  return { graph: concat(rebuilt), data: { chunks, size }, tensors };
}

function writeChunks(path: string, chunks: Uint8Array[]): void {
  const fd = openSync(path, 'w');
  try {
    for (const c of chunks) {
      for (let done = 0; done < c.length;) done += writeSync(fd, c, done, c.length - done);
    }
  } finally {
    closeSync(fd);
  }
}

/** Files of earlier versions of `name` (another hash), and temporary files left by a crash. */
function removeOtherVersions(dir: string, name: string, keep: string): void {
  const version = new RegExp(`^${name.replace(/[.]/g, '\\.')}-[0-9a-f]{16}\\.onnx(_data)?(\\.\\d+-\\d+\\.tmp)?$`);
  for (const f of readdirSync(dir)) {
    if (!version.test(f) || f === `${keep}.onnx` || f === `${keep}.onnx_data`) continue;
    // A temporary file of a worker still writing it is young: leave those of the last minute.
    const path = join(dir, f);
    try {
      if (f.endsWith('.tmp') && Date.now() - statSync(path).mtimeMs < 60_000) continue;
      rmSync(path, { force: true });
    } catch {
      // Removed meanwhile by another process.
    }
  }
}
