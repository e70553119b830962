/**
 * Embeddings for the simulated provider: one unit-length vector per input, seeded by the input
 * itself (the same text always embeds the same), as floats or as OpenAI's base64 of
 * little-endian float32 (what the `openai` SDK asks for by default).
 */
import { z } from 'zod';
import { envelope } from '../../errors.js';
import { countTokens } from '../../tokenizer.js';
import { rngFrom, seedOf } from './seed.js';

const Input = z.union([z.string(), z.array(z.string()).min(1), z.array(z.number().int()).min(1), z.array(z.array(z.number().int()).min(1)).min(1)]);

export const EmbeddingsRequestSchema = z.looseObject({
  model: z.string().min(1, 'you must provide a model parameter'),
  input: Input,
  dimensions: z.number().int().min(1).max(8192).optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
});
export type EmbeddingsRequest = z.infer<typeof EmbeddingsRequestSchema>;

export const DEFAULT_DIMENSIONS = 1536;
export const MAX_INPUTS = 2048;

function inputsOf(input: EmbeddingsRequest['input']): (string | number[])[] {
  if (typeof input === 'string') return [input];
  if (input.every((i) => typeof i === 'number')) return [input as number[]];
  return input as (string | number[])[];
}

export function vectorFor(input: string | number[], model: string, dims: number): Float32Array {
  const rng = rngFrom(seedOf('embedding', model, input));
  const v = new Float32Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    v[i] = rng.normal();
    norm += v[i] * v[i];
  }
  const scale = 1 / Math.sqrt(norm || 1);
  for (let i = 0; i < dims; i++) v[i] *= scale;
  return v;
}

export function embeddingsResponse(req: EmbeddingsRequest): { status: number; json: unknown } {
  const inputs = inputsOf(req.input);
  if (inputs.length > MAX_INPUTS) {
    const message = `input holds ${inputs.length} items; at most ${MAX_INPUTS} are allowed`;
    return { status: 400, json: envelope('openai', { message, type: 'invalid_request_error', param: 'input' }) };
  }
  const dims = req.dimensions ?? DEFAULT_DIMENSIONS;
  let tokens = 0;
  const data = inputs.map((input, index) => {
    tokens += typeof input === 'string' ? countTokens(input) : input.length;
    const vec = vectorFor(input, req.model, dims);
    const embedding = req.encoding_format === 'base64' ? Buffer.from(vec.buffer, vec.byteOffset, vec.byteLength).toString('base64') : Array.from(vec);
    return { object: 'embedding', index, embedding };
  });
  return { status: 200, json: { object: 'list', data, model: req.model, usage: { prompt_tokens: tokens, total_tokens: tokens } } };
}
