import { z } from 'zod';

/**
 * The processor's configuration. Content hiding follows OpenInference's TraceConfig
 * (`spec/configuration.md`): each flag is unset unless configured, and an unset flag takes the
 * `OPENINFERENCE_HIDE_*` environment variable, else false (precedence config > env > default).
 */
const hideFields = {
  inputs: z.boolean().optional(),
  outputs: z.boolean().optional(),
  inputMessages: z.boolean().optional(),
  outputMessages: z.boolean().optional(),
  inputImages: z.boolean().optional(),
  inputText: z.boolean().optional(),
  outputText: z.boolean().optional(),
  llmInvocationParameters: z.boolean().optional(),
  llmTools: z.boolean().optional(),
  embeddingsVectors: z.boolean().optional(),
  embeddingsText: z.boolean().optional(),
  prompts: z.boolean().optional(),
  choices: z.boolean().optional(),
};
export type HideFlag = keyof typeof hideFields;
export type HideFlags = Record<HideFlag, boolean>;

const HideSchema = z.object(hideFields).strict();

export const ProcessorConfigSchema = z
  .object({
    hide: HideSchema.prefault({}),
    /** Longest base64 image data URL kept (characters); unset: OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH, else 32000. */
    base64ImageMaxLength: z.number().int().positive().optional(),
    /** Attribute values longer than this many UTF-8 bytes are cut and listed in `tracegate.truncated`. */
    maxAttributeBytes: z
      .number()
      .int()
      .min(256)
      .default(32 * 1024),
    /** Drop credential-looking attribute keys and mask bearer tokens / API keys in values. */
    scrubSecrets: z.boolean().default(true),
    /** Price table file; unset: the bundled schemas/prices.json. */
    pricesPath: z.string().min(1).optional(),
    /** Append heuristic `gen_ai.evaluation.result` events. */
    qualitySignals: z.boolean().default(true),
  })
  .strict();

export type ProcessorConfigInput = z.input<typeof ProcessorConfigSchema>;
export type ProcessorConfig = z.output<typeof ProcessorConfigSchema>;

/** The configuration with every environment-dependent setting decided. */
export interface ResolvedProcessorConfig extends Omit<ProcessorConfig, 'hide' | 'base64ImageMaxLength'> {
  hide: HideFlags;
  base64ImageMaxLength: number;
}

/** Environment variable per flag; the deprecated singular name is read after the plural one. */
export const HIDE_ENV: Record<HideFlag, readonly string[]> = {
  inputs: ['OPENINFERENCE_HIDE_INPUTS'],
  outputs: ['OPENINFERENCE_HIDE_OUTPUTS'],
  inputMessages: ['OPENINFERENCE_HIDE_INPUT_MESSAGES'],
  outputMessages: ['OPENINFERENCE_HIDE_OUTPUT_MESSAGES'],
  inputImages: ['OPENINFERENCE_HIDE_INPUT_IMAGES'],
  inputText: ['OPENINFERENCE_HIDE_INPUT_TEXT'],
  outputText: ['OPENINFERENCE_HIDE_OUTPUT_TEXT'],
  llmInvocationParameters: ['OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS'],
  llmTools: ['OPENINFERENCE_HIDE_LLM_TOOLS'],
  embeddingsVectors: ['OPENINFERENCE_HIDE_EMBEDDINGS_VECTORS', 'OPENINFERENCE_HIDE_EMBEDDING_VECTORS'],
  embeddingsText: ['OPENINFERENCE_HIDE_EMBEDDINGS_TEXT'],
  prompts: ['OPENINFERENCE_HIDE_PROMPTS'],
  choices: ['OPENINFERENCE_HIDE_CHOICES'],
};

export const BASE64_IMAGE_ENV = 'OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH';
export const DEFAULT_BASE64_IMAGE_MAX_LENGTH = 32_000;

type Env = Readonly<Record<string, string | undefined>>;

/** OpenInference reads a flag as `value.toLowerCase() === 'true'`; other words count as unset here. */
function envBool(env: Env, names: readonly string[]): boolean | undefined {
  for (const name of names) {
    const v = env[name]?.trim().toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return undefined;
}

/** The `OPENINFERENCE_HIDE_*` flags the environment sets (unset ones are absent). */
export function hideFlagsFromEnv(env: Env): Partial<HideFlags> {
  const out: Partial<HideFlags> = {};
  for (const flag of Object.keys(HIDE_ENV) as HideFlag[]) {
    const v = envBool(env, HIDE_ENV[flag]);
    if (v !== undefined) out[flag] = v;
  }
  return out;
}

function base64FromEnv(env: Env): number | undefined {
  const raw = env[BASE64_IMAGE_ENV]?.trim();
  if (!raw || !/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 ? n : undefined;
}

/** Fills every setting the config leaves open from the environment, then the defaults; frozen. */
export function resolveProcessorConfig(config: ProcessorConfig, env: Env = process.env): ResolvedProcessorConfig {
  const fromEnv = hideFlagsFromEnv(env);
  const hide = {} as HideFlags;
  for (const flag of Object.keys(HIDE_ENV) as HideFlag[]) hide[flag] = config.hide[flag] ?? fromEnv[flag] ?? false;
  return Object.freeze({
    ...config,
    hide: Object.freeze(hide),
    base64ImageMaxLength: config.base64ImageMaxLength ?? base64FromEnv(env) ?? DEFAULT_BASE64_IMAGE_MAX_LENGTH,
  });
}

/** Validates a raw config section (all problems with their paths, as a ZodError) and resolves it. */
export function parseProcessorConfig(raw: unknown, env: Env = process.env): ResolvedProcessorConfig {
  return resolveProcessorConfig(ProcessorConfigSchema.parse(raw ?? {}), env);
}
