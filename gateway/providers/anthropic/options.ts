/** Anthropic's own fields of a Backend document, and its defaults. */
import { z } from 'zod';
import type { BackendDescriptor } from '../types.js';

export const ANTHROPIC_DEFAULT_VERSION = '2023-06-01';
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

export const anthropicFields = {
  /** The `anthropic-version` header (default `ANTHROPIC_DEFAULT_VERSION`); a Messages client's own header wins. */
  apiVersion: z.string().min(1).optional(),
};

export type AnthropicOptions = z.output<z.ZodObject<typeof anthropicFields>>;

/** The backend's Anthropic fields, validated by the config schema. */
export const anthropicOptions = (backend: BackendDescriptor): AnthropicOptions => (backend.options ?? {}) as AnthropicOptions;
