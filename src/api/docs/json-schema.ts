/**
 * JSON Schemas for the OpenAPI document, from the zod schemas that validate the same input, so
 * the document and the validation have one source. Sori's zod schemas are lenient on purpose
 * (null means absent, "true" is a boolean, enum values in any case): the document shows what a
 * client should send, the input side of each schema (`io: 'input'`).
 */
import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

/** zod writes JavaScript's safe-integer range on every `z.int()`: no bound a client needs to read. */
const SAFE_INT_BOUND = Number.MAX_SAFE_INTEGER;

function withoutSafeIntBounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutSafeIntBounds);
  if (typeof node !== 'object' || node === null) return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'minimum' && value === -SAFE_INT_BOUND) || (key === 'maximum' && value === SAFE_INT_BOUND)) continue;
    out[key] = withoutSafeIntBounds(value);
  }
  return out;
}

/** The schema a client's input must match, without `$schema` (an OpenAPI 3.1 document sets its dialect once). */
export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return withoutSafeIntBounds(rest) as JsonSchema;
}
