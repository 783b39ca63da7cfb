/**
 * Whisper's encoder on less than 30 s of audio, as whisper.cpp's `audio_ctx`.
 *
 * The Hugging Face / Xenova ONNX export fixes the input at [batch, 80, 3000] mel frames and adds
 * the positional embedding as a [1500, d_model] initializer (`Add(Transpose(conv2 out), pos)`);
 * every other shape in the graph is computed at run time (Shape -> Gather -> Concat -> Reshape).
 * So the only things pinning the encoder to 30 s are the declared input/output dims, the
 * recorded intermediate shapes (value_info) and that Add. This module rewrites the shipped model
 * bytes at load time, in memory, without touching a weight:
 *
 *   pos  = <the [1500, d] initializer, unchanged>
 *   len  = Gather(Shape(x), [1])                     x = the conv output after Transpose, [b, T, d]
 *   posT = Slice(pos, starts=[0], ends=len, axes=[0])
 *   Add(x, posT)                                    instead of Add(x, pos)
 *
 * with the input's frame dim and the output's position dim made symbolic and value_info dropped
 * (ORT infers the shapes again). For 3000 frames the graph computes exactly what the original
 * does (the Slice is the identity); for 2·N frames it gives N positions whose embedding is the
 * original's first N rows: what whisper.cpp does with audio_ctx = N.
 *
 * The decoder needs no change: its `encoder_hidden_states` and cross K/V are
 * `encoder_sequence_length` long, computed from whatever the encoder returns.
 *
 * Accuracy (bench/short-encoder.ts, quick set): the bare truncated output makes Whisper repeat
 * itself (ko CER 11.5% -> 39-60% greedy), whatever the margin. Followed by the encoder output of
 * a silent window for the remaining positions (`encodePadded`), the decoder sees a window shaped
 * like its training data and stays within ~0.5 point of full context from a 0.5 s margin on.
 *
 * The edit works on the protobuf wire format directly (../onnx-proto.ts; no protobuf library,
 * no onnx.proto): the model's bytes are copied field by field, and only GraphProto's node list,
 * its input and output declarations and value_info are rewritten. Unknown or untouched fields
 * pass through byte for byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { cachedGraphName, ENCODER_FILE, encoderSessionOptions, modelConfigSchema, sessionOf, type ModelCache } from './model.js';
import { splitEncoderAttentionHeads } from './encoder-heads.js';
import { HOP, LogMelExtractor, WINDOW_FRAMES } from './features.js';
import { SAMPLE_RATE } from '../../audio.js';
import {
  DATA_LOCATION_EXTERNAL, DIM_PARAM, DIM_VALUE, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_NODE, GRAPH_OUTPUT,
  GRAPH_VALUE_INFO, MODEL_GRAPH, NODE_INPUT, NODE_NAME, NODE_OP_TYPE, SHAPE_DIM, TENSOR_DATA_LOCATION, TENSOR_DIMS,
  TENSOR_NAME, TYPE_TENSOR, TYPE_TENSOR_SHAPE, VALUE_INFO_TYPE, WT_LEN, WT_VARINT, concat, lenField, parseMessage,
  readVarint, str, strField, type WireField,
} from '../onnx-proto.js';
import { int64Initializer, nodeProto } from '../onnx-nodes.js';

/** Mel frames per encoder position (conv2 has stride 2). */
export const FRAMES_PER_POSITION = 2;
/** Mel frames per second (hop 160 at 16 kHz): 100. */
export const FRAMES_PER_SECOND = SAMPLE_RATE / HOP;

/** Rewrites one dim of a ValueInfoProto's tensor shape as a symbolic dim named `param`. */
function symbolicDim(valueInfo: Uint8Array, dimIndex: number, param: string): Uint8Array {
  const rebuild = (fields: WireField[], no: number, edit: (payload: Uint8Array) => Uint8Array): Uint8Array => {
    let done = false;
    const parts = fields.map((f) => {
      if (f.no !== no || f.wt !== WT_LEN || done) return f.raw;
      done = true;
      return lenField(no, edit(f.payload));
    });
    if (!done) throw new Error(`short encoder: value_info lacks field ${no}`);
    return concat(parts);
  };
  return rebuild(parseMessage(valueInfo), VALUE_INFO_TYPE, (type) =>
    rebuild(parseMessage(type), TYPE_TENSOR, (tensor) =>
      rebuild(parseMessage(tensor), TYPE_TENSOR_SHAPE, (shape) => {
        const fields = parseMessage(shape);
        let k = -1;
        const parts = fields.map((f) => {
          if (f.no !== SHAPE_DIM) return f.raw;
          k++;
          if (k !== dimIndex) return f.raw;
          // Dimension: drop dim_value, keep `denotation` (field 3) if any, set dim_param.
          const kept = parseMessage(f.payload).filter((d) => d.no !== DIM_VALUE && d.no !== DIM_PARAM).map((d) => d.raw);
          return lenField(SHAPE_DIM, concat([strField(DIM_PARAM, param), ...kept]));
        });
        if (k < dimIndex) throw new Error(`short encoder: shape has no dim ${dimIndex}`);
        return concat(parts);
      })));
}

export interface ShortEncoderGraphInfo {
  /** Name of the positional-embedding initializer that is now sliced. */
  positionalEmbedding: string;
  /** Its dims, [1500, d_model] for every Whisper size. */
  positionalDims: number[];
  /** The Add that adds it. */
  addNode: string;
  /** Initializers stored outside the .onnx file (larger models): see loadShortEncoder. */
  externalData: boolean;
}

/**
 * The encoder graph rewritten to take any even number of mel frames up to 3000 (see the file
 * comment). Pure function over the model's bytes; throws if the graph does not look like a
 * Whisper encoder export (no 2-D initializer with 1500 rows feeding an Add).
 */
export function buildShortEncoderModel(model: Uint8Array): { bytes: Uint8Array; info: ShortEncoderGraphInfo } {
  const top = parseMessage(model);
  const graphField = top.find((f) => f.no === MODEL_GRAPH && f.wt === WT_LEN);
  if (!graphField) throw new Error('short encoder: model has no graph');
  const graph = parseMessage(graphField.payload);

  // The positional embedding: a [1500, d] initializer.
  const initDims = new Map<string, number[]>();
  let externalData = false;
  for (const f of graph) {
    if (f.no !== GRAPH_INITIALIZER || f.wt !== WT_LEN) continue;
    const t = parseMessage(f.payload);
    const nameF = t.find((x) => x.no === TENSOR_NAME);
    if (!nameF) continue;
    const dims: number[] = [];
    for (const x of t) {
      if (x.no !== TENSOR_DIMS) continue;
      if (x.wt === WT_VARINT) dims.push(x.value);
      else if (x.wt === WT_LEN) { // packed
        let p = 0;
        while (p < x.payload.length) { const [v, q] = readVarint(x.payload, p); dims.push(v); p = q; }
      }
    }
    if (t.some((x) => x.no === TENSOR_DATA_LOCATION && x.value === DATA_LOCATION_EXTERNAL)) externalData = true;
    initDims.set(str(nameF), dims);
  }
  const n = WINDOW_FRAMES / FRAMES_PER_POSITION;
  let addIndex = -1;
  let posName = '';
  let xName = '';
  let addName = '';
  graph.forEach((f, i) => {
    if (f.no !== GRAPH_NODE || f.wt !== WT_LEN) return;
    const node = parseMessage(f.payload);
    const op = node.find((x) => x.no === NODE_OP_TYPE);
    if (!op || str(op) !== 'Add') return;
    const inputs = node.filter((x) => x.no === NODE_INPUT).map(str);
    const k = inputs.findIndex((name) => {
      const d = initDims.get(name);
      return d !== undefined && d.length === 2 && d[0] === n;
    });
    if (k < 0 || inputs.length !== 2) return;
    if (addIndex >= 0) throw new Error('short encoder: more than one Add of a [1500, d] initializer');
    addIndex = i;
    posName = inputs[k];
    xName = inputs[1 - k];
    const nameField = node.find((x) => x.no === NODE_NAME);
    addName = nameField ? str(nameField) : '';
  });
  if (addIndex < 0) throw new Error('short encoder: no positional-embedding Add found (not a Whisper encoder export?)');

  const p = 'sori_short_encoder';
  const shapeName = `${p}/shape`;
  const lenName = `${p}/positions`;
  const startsName = `${p}/zero`;
  const oneName = `${p}/one`;
  const slicedName = `${p}/positional_embedding`;
  const parts: Uint8Array[] = [];
  let inputsSeen = 0;
  let outputsSeen = 0;
  graph.forEach((f, i) => {
    if (f.no === GRAPH_VALUE_INFO) return; // inferred again by the runtime
    if (i === addIndex) {
      const node = parseMessage(f.payload);
      // Same node, the initializer input renamed to the sliced one. Node inputs keep their order.
      // Shape + Gather rather than Shape(start, end), which needs opset 15.
      parts.push(nodeProto('Shape', `${p}/Shape`, [xName], [shapeName]));
      parts.push(nodeProto('Gather', `${p}/Gather`, [shapeName, oneName], [lenName], { int: { axis: 0 } }));
      parts.push(nodeProto('Slice', `${p}/Slice`, [posName, startsName, lenName, startsName], [slicedName]));
      parts.push(lenField(GRAPH_NODE, concat(node.map((x) =>
        x.no === NODE_INPUT && str(x) === posName ? strField(NODE_INPUT, slicedName) : x.raw))));
      return;
    }
    if (f.no === GRAPH_INPUT) {
      // The first graph input is input_features [batch, n_mels, 3000].
      parts.push(inputsSeen++ === 0 ? lenField(GRAPH_INPUT, symbolicDim(f.payload, 2, 'n_frames')) : f.raw);
      return;
    }
    if (f.no === GRAPH_OUTPUT) {
      // last_hidden_state [batch, 1500, d].
      parts.push(outputsSeen++ === 0 ? lenField(GRAPH_OUTPUT, symbolicDim(f.payload, 1, 'n_positions')) : f.raw);
      return;
    }
    parts.push(f.raw);
  });
  parts.push(int64Initializer(startsName, [0]), int64Initializer(oneName, [1]));
  const newGraph = concat(parts);
  // Nodes must stay topologically sorted: the Shape and Slice sit right before the Add, after
  // the Transpose that produces x (it precedes the Add already).
  const bytes = concat(top.map((f) => (f === graphField ? lenField(MODEL_GRAPH, newGraph) : f.raw)));
  return { bytes, info: { positionalEmbedding: posName, positionalDims: initDims.get(posName) ?? [], addNode: addName, externalData } };
}

// ---------------------------------------------------------------------------------------------
// Runtime

export interface ShortEncoder {
  session: ort.InferenceSession;
  info: ShortEncoderGraphInfo;
  /** Largest input: 3000 frames. */
  maxFrames: number;
  /**
   * Encodes the first `frames` mel frames of a 30 s window. `mel` is what LogMelExtractor.extract
   * returns: [nMels, 3000] row-major (log-mel of the audio zero-padded to 30 s, so the frames
   * past the audio are the same padding the full encoder would see). `frames` is rounded up to
   * an even count and capped at 3000. Returns last_hidden_state, [1, frames / 2, d_model]: feed
   * it to DecoderRunner.prefill as is.
   */
  encode(mel: Float32Array, frames: number): Promise<ort.Tensor>;
  /**
   * As `encode`, then padded to the full [1, 1500, d_model] with the encoder output of a silent
   * 30 s window from position frames / 2 on (computed once, at load). The decoder then sees a
   * window shaped like the ones it was trained on: the end of speech followed by "padding"
   * positions. Saves the encoder time only (the decoder still attends over 1500 positions), but
   * Whisper repeats itself far less than on a bare truncated context (bench/short-encoder.ts).
   */
  encodePadded(mel: Float32Array, frames: number): Promise<ort.Tensor>;
}

export interface ShortEncoderOptions {
  /** Mel bins of the model (config.json num_mel_bins: 80, or 128 for large-v3), for the silent window precomputed at load; later ones take it from their input. */
  nMels?: number;
  /** Encode the silent window for encodePadded at load (default) rather than on first use. */
  precomputeSilence?: boolean;
  /** Instead of model.ts's options (intra-op threads, sequential, all optimisations). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Attention head by head (encoder-heads.ts; default); false keeps the export's all-heads blocks. */
  splitHeads?: boolean;
  /** Where the rewritten graph's weights are kept as a data file (model.ts sessionOf); absent: loaded from memory. */
  cache?: ModelCache;
}

/** The first `frames` columns of a [nMels, 3000] row-major mel: a [nMels, frames] copy. */
export function sliceMel(mel: Float32Array, nMels: number, frames: number): Float32Array {
  const total = mel.length / nMels;
  if (!Number.isInteger(total) || frames > total) throw new Error(`sliceMel: ${frames} frames of a [${nMels}, ${total}] mel`);
  if (frames === total) return mel;
  const out = new Float32Array(nMels * frames);
  for (let m = 0; m < nMels; m++) out.set(mel.subarray(m * total, m * total + frames), m * frames);
  return out;
}

/**
 * Loads `onnx/encoder_model_quantized.onnx` of a Whisper model folder, rewritten in memory as
 * above. Nothing is written to disk. Models with external data (initializers in an .onnx_data
 * file) are refused: the rewritten bytes would need the data file next to them.
 */
export async function loadShortEncoder(modelDir: string, threads: number, opts: ShortEncoderOptions = {}): Promise<ShortEncoder> {
  const original = readFileSync(join(modelDir, ENCODER_FILE));
  const short = buildShortEncoderModel(original);
  const info = short.info;
  if (info.externalData) {
    throw new Error('short encoder: encoders with external data are not supported (the rewritten model would lose the data file)');
  }
  // Attention head by head (encoder-heads.ts): the same output, about half a window's peak memory.
  const heads = modelConfigSchema.parse(JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'))).encoder_attention_heads ?? 0;
  const bytes = opts.splitHeads === false ? short.bytes : splitEncoderAttentionHeads(short.bytes, heads).bytes;
  const name = cachedGraphName(modelDir, opts.splitHeads === false ? 'short-encoder' : 'short-encoder-heads');
  const session = await sessionOf(bytes, opts.sessionOptions ?? encoderSessionOptions(threads), opts.cache, name);
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const maxFrames = info.positionalDims[0] * FRAMES_PER_POSITION;
  const encode = async (mel: Float32Array, frames: number): Promise<ort.Tensor> => {
    const nMels = mel.length / WINDOW_FRAMES;
    if (!Number.isInteger(nMels)) throw new Error(`short encoder: mel of ${mel.length} values is not [n_mels, ${WINDOW_FRAMES}]`);
    const n = Math.min(maxFrames, Math.max(FRAMES_PER_POSITION, Math.ceil(frames / FRAMES_PER_POSITION) * FRAMES_PER_POSITION));
    const input = new ort.Tensor('float32', sliceMel(mel, nMels, n), [1, nMels, n]);
    const out = await session.run({ [inputName]: input }, [outputName]);
    return out[outputName];
  };
  let silence: Promise<ort.Tensor> | undefined;
  const silentTail = (nMels: number): Promise<ort.Tensor> =>
    (silence ??= encode(new LogMelExtractor(nMels).extract(new Float32Array(0)), WINDOW_FRAMES));
  if (opts.precomputeSilence !== false) await silentTail(opts.nMels ?? 80);
  return {
    session,
    info,
    maxFrames,
    encode,
    async encodePadded(mel: Float32Array, frames: number): Promise<ort.Tensor> {
      const head = await encode(mel, frames);
      const tail = await silentTail(mel.length / WINDOW_FRAMES);
      if (head.dims[1] === tail.dims[1]) return head;
      const out = new Float32Array(tail.data.length);
      out.set(tail.data as Float32Array);
      out.set(head.data as Float32Array, 0);
      return new ort.Tensor('float32', out, tail.dims);
    },
  };
}

export interface ContextPolicy {
  /** Audio added after the content, seconds. */
  marginS: number;
  /** Then rounded up to a multiple of this many seconds (0: not rounded). */
  roundS: number;
  /** Never less than this many seconds of context. */
  minS: number;
}

/**
 * Mel frames to encode for `samples` of audio at 16 kHz: content + margin, rounded up, at least
 * minS, at most 30 s; always even. Rounding keeps the number of distinct input shapes small
 * (ORT caches per-shape allocation plans).
 */
export function contextFrames(samples: number, policy: ContextPolicy): number {
  const contentS = samples / SAMPLE_RATE;
  let s = contentS + policy.marginS;
  if (policy.roundS > 0) s = Math.ceil(s / policy.roundS - 1e-9) * policy.roundS;
  s = Math.max(s, policy.minS);
  const frames = Math.ceil(s * FRAMES_PER_SECOND);
  return Math.min(WINDOW_FRAMES, Math.ceil(frames / FRAMES_PER_POSITION) * FRAMES_PER_POSITION);
}

/**
 * With timestamps on, a window encoded over `positions` encoder positions must not end a
 * segment past its last position: timestamp token k is k · 20 ms = encoder position k. Sets
 * every timestamp token above <|positions·0.02|> to -Infinity in one row of logits; call it on
 * the raw row before LogitRules.apply (so its log-sum-exp and "timestamp mass" rule see the cap).
 * Not needed for text-only decoding (<|notimestamps|>), which is what single windows use.
 */
export function capTimestamps(row: Float32Array, timestampBegin: number, positions: number): void {
  const from = timestampBegin + positions + 1;
  if (from < row.length) row.fill(-Infinity, from);
}
