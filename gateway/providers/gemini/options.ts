/** Gemini API's own fields of a Backend document, its defaults, and its model URLs. */
import { z } from 'zod';
import { invalidParam } from '../shared/errors.js';
import { baseHeaders, joinUrl } from '../shared/helpers.js';
import type { BackendDescriptor, ClientError, RequestResult, Target } from '../types.js';

/** `https://generativelanguage.googleapis.com`, as the Gen AI SDK takes it (`/v1beta/models/…` is appended). */
export const GEMINI_PUBLIC_URL = 'https://generativelanguage.googleapis.com';
export const GEMINI_DEFAULT_API_VERSION = 'v1beta';

export const geminiFields = {
  /** The API version in the path (default `v1beta`, where every current model and feature is). */
  apiVersion: z
    .string()
    .regex(/^v[0-9a-z]+$/, 'an API version such as v1beta or v1')
    .optional(),
};

export type GeminiOptions = z.output<z.ZodObject<typeof geminiFields>>;

export const geminiOptions = (backend: BackendDescriptor): GeminiOptions => (backend.options ?? {}) as GeminiOptions;

/** The model methods the translators call. */
export type GeminiMethod = 'generateContent' | 'streamGenerateContent' | 'batchEmbedContents' | 'predict';

/** Where a model method is: a URL, or the 400 a model name that cannot be a path segment gets. */
export type ModelUrl = (target: Target, method: GeminiMethod) => string | ClientError;

/**
 * A model name as it goes into a URL path: `gemini-2.5-flash`, `models/gemini-2.5-flash` or
 * `tunedModels/my-model`; never a `..`, a query or another method.
 */
const MODEL = /^(?:(models|tunedModels)\/)?([A-Za-z0-9][A-Za-z0-9._@-]{0,127})$/;

/** `[collection, id]` of a model name, or undefined when it is not one. */
export function modelPath(model: string): [collection: string | undefined, id: string] | undefined {
  const m = MODEL.exec(model);
  if (!m || m[2].includes('..')) return undefined;
  return [m[1], m[2]];
}

export function badModel(model: string): ClientError {
  return invalidParam('model', `${JSON.stringify(model.slice(0, 100))} is not a model name a Google backend accepts`);
}

/** A stream is asked for with `alt=sse` (else Google streams one JSON array). */
export const methodQuery = (method: string): Record<string, string> | undefined => (method === 'streamGenerateContent' ? { alt: 'sse' } : undefined);

/** `{url}/{apiVersion}/models/{model}:{method}` (tuned models under `tunedModels/`). */
export const geminiModelUrl: ModelUrl = (target, method) => {
  const path = modelPath(target.model);
  if (!path) return badModel(target.model);
  const version = geminiOptions(target.backend).apiVersion ?? GEMINI_DEFAULT_API_VERSION;
  return joinUrl(target.backend.baseUrl, `/${version}/${path[0] ?? 'models'}/${path[1]}:${method}`, methodQuery(method));
};

/** The upstream request for a model method: its URL (or the 400 for a model name no URL can hold), JSON headers, the body. */
export function modelRequest(url: ModelUrl, target: Target, method: GeminiMethod, body: string | Buffer, onBadModel?: (e: ClientError) => ClientError): RequestResult {
  const where = url(target, method);
  if (typeof where !== 'string') return { ok: false, error: onBadModel ? onBadModel(where) : where };
  const stream = method === 'streamGenerateContent';
  return { ok: true, request: { method: 'POST', url: where, headers: baseHeaders(target.backend, stream), body, stream } };
}
