/**
 * A Bedrock backend's own fields of a Backend document, and the runtime URLs built from them.
 *
 * Which Bedrock API serves a call:
 * - Anthropic Messages clients (`/v1/messages`) → always InvokeModel: the Messages body is what
 *   Claude on Bedrock takes there, so nothing is lost in translation.
 * - OpenAI chat clients → Converse by default (every model family, one format); `api: invoke`
 *   sends them to InvokeModel with the Anthropic Messages body instead (Claude models only; it
 *   carries Anthropic-only fields such as `top_k`, `metadata.user_id` and `disable_parallel_tool_use`).
 */
import { z } from 'zod';
import { secretRef } from '../../config/fields.js';
import type { BackendDescriptor, Target } from '../types.js';

export const DEFAULT_REGION = 'us-east-1';

export const bedrockFields = {
  /** The AWS region whose runtime endpoint serves the calls and that requests are signed for. */
  region: z.string({ error: 'the AWS region is required (such as us-east-1)' }).regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'an AWS region such as us-east-1'),
  /** Which API OpenAI chat clients are served through: `converse` (every model family) or `invoke` (Claude models, Anthropic's body). */
  api: z.enum(['converse', 'invoke']).default('converse'),
  /** Static AWS keys, as `{ env }` / `{ file }` references; absent: the standard AWS credential chain. */
  accessKeyId: secretRef.optional(),
  secretAccessKey: secretRef.optional(),
  /** With temporary keys (an STS session). */
  sessionToken: secretRef.optional(),
  /** The shared config / credentials file profile the credential chain reads (default: AWS_PROFILE, else `default`). */
  profile: z
    .string()
    .regex(/^[A-Za-z0-9_.+=,@-]{1,64}$/, 'an AWS profile name')
    .optional(),
};

export const BEDROCK_SECRET_FIELDS = ['accessKeyId', 'secretAccessKey', 'sessionToken'] as const;

export type BedrockOptions = z.output<z.ZodObject<Omit<typeof bedrockFields, (typeof BEDROCK_SECRET_FIELDS)[number]>>>;
export type BedrockApi = BedrockOptions['api'];

export const bedrockOptions = (backend: BackendDescriptor): Partial<BedrockOptions> => (backend.options ?? {}) as Partial<BedrockOptions>;

/** `https://bedrock-runtime.{region}.amazonaws.com`, the runtime endpoint of a region. */
export function runtimeUrl(options: Readonly<Record<string, unknown>>): string {
  return `https://bedrock-runtime.${typeof options.region === 'string' ? options.region : DEFAULT_REGION}.amazonaws.com`;
}

/** Credential fields that only make sense together, or not at all. */
export function checkBedrockSpec(spec: Readonly<Record<string, unknown>>, issue: (path: (string | number)[], message: string) => void): void {
  const has = (f: string) => spec[f] !== undefined;
  if (has('accessKeyId') !== has('secretAccessKey')) {
    issue([has('accessKeyId') ? 'secretAccessKey' : 'accessKeyId'], 'accessKeyId and secretAccessKey go together: give both, or neither for the AWS credential chain');
  }
  if (has('sessionToken') && !has('accessKeyId')) issue(['sessionToken'], 'a sessionToken needs accessKeyId and secretAccessKey');
  if (has('apiKey') && has('accessKeyId')) issue(['apiKey'], 'give either apiKey (a Bedrock API key) or accessKeyId and secretAccessKey, not both');
  if (has('profile') && (has('accessKeyId') || has('apiKey'))) issue(['profile'], 'profile is for the AWS credential chain: it does not apply with static keys or an apiKey');
}

/**
 * The region a request is signed for: the backend's, else the one in an AWS runtime host name,
 * else us-east-1.
 */
export function signingRegion(backend: BackendDescriptor, host: string): string {
  const fromOptions = bedrockOptions(backend).region;
  if (fromOptions) return fromOptions;
  const m = /^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/.exec(host);
  return m ? m[1] : DEFAULT_REGION;
}

export type Action = 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream';

/** `{base}/model/{modelId}/{action}`; the model id (or ARN) is one path segment, percent-encoded as the AWS SDK does. */
export function modelUrl(target: Target, action: Action): string {
  const base = target.backend.baseUrl.endsWith('/') ? target.backend.baseUrl.slice(0, -1) : target.backend.baseUrl;
  return `${base}/model/${encodeURIComponent(target.model)}/${action}`;
}

/** Request headers: JSON in, JSON or the event stream out, plus the backend's extras. */
export function bedrockHeaders(backend: BackendDescriptor, stream: boolean): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', accept: stream ? 'application/vnd.amazon.eventstream' : 'application/json' };
  if (backend.headers) for (const [k, v] of Object.entries(backend.headers)) h[k.toLowerCase()] = v;
  return h;
}
