/** Azure OpenAI's own fields of a Backend document. */
import { z } from 'zod';
import type { BackendDescriptor } from '../types.js';

export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

export const azureFields = {
  /** The `api-version` query value (default `AZURE_DEFAULT_API_VERSION`). */
  apiVersion: z.string().min(1).optional(),
  /** The deployment name; defaults to the target model. */
  deployment: z.string().min(1).optional(),
};

export type AzureOptions = z.output<z.ZodObject<typeof azureFields>>;

/** The backend's Azure fields, validated by the config schema. */
export const azureOptions = (backend: BackendDescriptor): AzureOptions => (backend.options ?? {}) as AzureOptions;
