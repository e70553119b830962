/** Vertex AI's own fields of a Backend document, its defaults, and its model URLs. */
import { z } from 'zod';
import { httpUrl, secretRef } from '../../config/fields.js';
import { joinUrl } from '../shared/helpers.js';
import type { BackendDescriptor, ClientError, Target } from '../types.js';
import { badModel, methodQuery, modelPath, type ModelUrl } from '../gemini/options.js';

export const VERTEX_DEFAULT_LOCATION = 'us-central1';
export const VERTEX_DEFAULT_API_VERSION = 'v1';

export const vertexFields = {
  /** The Google Cloud project id the models are called in. */
  project: z.string().regex(/^[a-z0-9][a-z0-9.:-]{0,99}$/, 'a Google Cloud project id'),
  /** The region (us-central1, europe-west4, …) or `global`; it picks the endpoint host too. */
  location: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, 'a Google Cloud region such as us-central1, or global')
    .default(VERTEX_DEFAULT_LOCATION),
  /** Whose models: `google` (Gemini) or `anthropic` (Claude). Default: anthropic for claude-* models, else google. */
  publisher: z.enum(['google', 'anthropic']).optional(),
  /** The API version in the path (default v1). */
  apiVersion: z.enum(['v1', 'v1beta1']).optional(),
  /**
   * A service account key (the JSON file Google issues) as a secret reference, e.g.
   * `{ file: /var/run/secrets/vertex-sa.json }`. Absent: tokens come from the metadata server.
   */
  serviceAccount: secretRef.optional(),
  /** The metadata server (default http://metadata.google.internal), when there is no serviceAccount. */
  metadataUrl: httpUrl.optional(),
};

export type VertexOptions = z.output<z.ZodObject<Omit<typeof vertexFields, 'serviceAccount'>>>;

export const vertexOptions = (backend: BackendDescriptor): VertexOptions => (backend.options ?? {}) as VertexOptions;

/** `https://{location}-aiplatform.googleapis.com` (`https://aiplatform.googleapis.com` for global). */
export function vertexBaseUrl(options: Readonly<Record<string, unknown>>): string {
  const location = typeof options.location === 'string' ? options.location : VERTEX_DEFAULT_LOCATION;
  return location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location}-aiplatform.googleapis.com`;
}

export type Publisher = 'google' | 'anthropic';

/** The publisher of a target's model: the backend's, else anthropic for Claude models. */
export function publisherOf(target: Target): Publisher {
  return vertexOptions(target.backend).publisher ?? (/^claude/i.test(target.model) ? 'anthropic' : 'google');
}

/** `{url}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`. */
export function vertexModelUrl(target: Target, publisher: Publisher, method: string): string | ClientError {
  const path = modelPath(target.model);
  if (!path || (path[0] !== undefined && path[0] !== 'models')) return badModel(target.model);
  const o = vertexOptions(target.backend);
  const prefix = `/${o.apiVersion ?? VERTEX_DEFAULT_API_VERSION}/projects/${o.project}/locations/${o.location ?? VERTEX_DEFAULT_LOCATION}`;
  return joinUrl(target.backend.baseUrl, `${prefix}/publishers/${publisher}/models/${path[1]}:${method}`, methodQuery(method));
}

/** Gemini on Vertex: the Gemini translators' model URLs. */
export const vertexGeminiUrl: ModelUrl = (target, method) => vertexModelUrl(target, 'google', method);
