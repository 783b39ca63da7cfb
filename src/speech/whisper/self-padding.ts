/**
 * Lets the decoder's cached branch run rows whose self caches hold different numbers of tokens,
 * so requests can join a batch at any step (grouped-decoder.ts's `padding` option). The export
 * takes every row's position from the shared past length and has no attention-mask input:
 *
 *   positions = Tile(Range(past, past + L))  -> Gather(embed_positions, positions)
 *   mask      = Where(causal, 0, -max)        -> per layer Slice -> Add(scores, ·) -> Softmax
 *
 * This rewrite feeds both from two new graph inputs instead:
 *
 *   sori_position_ids [B, L] int64                 each row's own positions
 *   sori_self_mask    [B, 1, L, past + L] float    added to the causal mask: -max where a row's
 *                                                  cache is padding, 0 elsewhere
 *
 * A shorter cache is left-padded to the longest (GroupedRunner); its padded positions get no
 * attention weight (exp underflows to exactly 0), but the self-attention Softmax and MatMul sum
 * over the padded length in another float order: with per-row quantisation a padded row's
 * logits are within ~1e-5 of running it alone (10 greedy steps, tokens identical: the test),
 * not the same bits; with the export's per-tensor quantisation they move as batching moves
 * them anyway.
 *
 * Both inputs must be fed on every run of a session built with this option, the prefill branch
 * included (which ignores them).
 */
import ort from 'onnxruntime-node';
import { GRAPH_INPUT, GRAPH_NODE, ONNX_FLOAT, ONNX_INT64, WT_LEN, concat, parseMessage } from '../onnx-proto.js';
import { nodeProto, parseNode, renameNode, tensorDeclaration, type ParsedNode } from '../onnx-nodes.js';

export const POSITION_IDS = 'sori_position_ids';
export const SELF_MASK = 'sori_self_mask';
const MASK_SUM = 'sori_padding/mask';
/**
 * `graph` (the cached branch's GraphProto bytes) reading positions and an extra self-attention
 * mask from POSITION_IDS and SELF_MASK; returns it and the two input declarations for the top
 * graph. `isPositionTable(name)` tells the positional-embedding initializer.
 */
export function rewriteSelfPadding(graph: Uint8Array, isPositionTable: (name: string) => boolean): { graph: Uint8Array; inputs: Uint8Array[] } {
  const fields = parseMessage(graph);
  const nodes: ParsedNode[] = [];
  fields.forEach((f, i) => { if (f.no === GRAPH_NODE && f.wt === WT_LEN) nodes.push(parseNode(i, f.payload)); });
  const producer = new Map<string, ParsedNode>();
  const consumers = new Map<string, ParsedNode[]>();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }

  const gathers = nodes.filter((n) => n.op === 'Gather' && isPositionTable(n.inputs[0]));
  if (gathers.length !== 1) throw new Error(`self padding: expected one Gather of the positional embedding, found ${gathers.length}`);

  // Self-attention: Softmax(Add(scores, Slice(mask, ...))) feeding MatMul(·, present.l.decoder.value).
  const slices: ParsedNode[] = [];
  for (const s of nodes) {
    if (s.op !== 'Softmax') continue;
    const self = (consumers.get(s.outputs[0]) ?? []).some((m) => m.op === 'MatMul' && /^present\.\d+\.decoder\.value$/.test(m.inputs[1] ?? ''));
    if (!self) continue;
    const add = producer.get(s.inputs[0]);
    const slice = add?.op === 'Add' ? add.inputs.map((i) => producer.get(i)).find((p) => p?.op === 'Slice') : undefined;
    if (!slice) throw new Error(`self padding: self-attention ${s.name} has no Add of a sliced mask before it`);
    slices.push(slice);
  }
  const masks = new Set(slices.map((s) => s.inputs[0]));
  if (slices.length === 0 || masks.size !== 1) throw new Error(`self padding: expected one causal mask sliced by every layer, found ${masks.size}`);
  const mask = [...masks][0];
  const maskProducer = producer.get(mask);
  if (!maskProducer) throw new Error('self padding: the causal mask is not computed in the cached branch');

  const sliceIndex = new Set(slices.map((s) => s.index));
  const parts: Uint8Array[] = [];
  fields.forEach((f, i) => {
    if (i === gathers[0].index) {
      parts.push(renameNode(gathers[0], { input: [1, POSITION_IDS] }));
      return;
    }
    if (sliceIndex.has(i)) {
      const s = slices.find((x) => x.index === i) as ParsedNode;
      parts.push(renameNode(s, { input: [0, MASK_SUM] }));
      return;
    }
    parts.push(f.raw);
    if (i === maskProducer.index) parts.push(nodeProto('Add', MASK_SUM, [mask, SELF_MASK], [MASK_SUM]));
  });
  return {
    graph: concat(parts),
    inputs: [
      tensorDeclaration(GRAPH_INPUT, POSITION_IDS, ONNX_INT64, ['batch_size', 'decoder_sequence_length']),
      tensorDeclaration(GRAPH_INPUT, SELF_MASK, ONNX_FLOAT, ['batch_size', 1, 'decoder_sequence_length', 'sori_total_sequence_length']),
    ],
  };
}

/**
 * The padding inputs for one step of `tokens` tokens per row on a joined cache of `length`
 * positions whose group g starts after `pads[g]` positions of padding.
 */
export function paddingFeeds(pads: number[], rowsPerGroup: number, length: number, tokens = 1): Record<string, ort.Tensor> {
  const rows = pads.length * rowsPerGroup;
  const positions = new BigInt64Array(rows * tokens);
  const total = length + tokens;
  const mask = new Float32Array(rows * tokens * total);
  pads.forEach((pad, g) => {
    for (let j = 0; j < rowsPerGroup; j++) {
      const row = g * rowsPerGroup + j;
      for (let i = 0; i < tokens; i++) {
        positions[row * tokens + i] = BigInt(length - pad + i);
        mask.fill(-3.4028234663852886e38, (row * tokens + i) * total, (row * tokens + i) * total + pad);
      }
    }
  });
  return {
    [POSITION_IDS]: new ort.Tensor('int64', positions, [rows, tokens]),
    [SELF_MASK]: new ort.Tensor('float32', mask, [rows, 1, tokens, total]),
  };
}
