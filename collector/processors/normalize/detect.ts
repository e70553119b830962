import { OI, TG, type OiSpanKind } from '../../../common/semconv.js';
import type { SpanRecord } from '../../model.js';
import type { Convention } from '../context.js';

/** Which conventions a span's keys show; one pass over the keys. */
export interface Seen {
  openinference: boolean;
  genai: boolean;
  openllmetry: boolean;
  vercel: boolean;
}

export function detect(attrs: Record<string, string>): Seen {
  const s: Seen = { openinference: false, genai: false, openllmetry: false, vercel: false };
  // Object.keys and an index: on prototype-less (dictionary) maps cheaper than for-in.
  const keys = Object.keys(attrs);
  for (let i = 0; i < keys.length; i++) {
    const c = conventionOf(keys[i]);
    if (c !== undefined) s[c] = true;
  }
  return s;
}

/** The convention a key shows, remembered per key (key names repeat from span to span). */
const keyConventions = new Map<string, Convention | null>();

function conventionOf(k: string): Convention | undefined {
  let c = keyConventions.get(k);
  if (c === undefined) {
    c = classify(k) ?? null;
    if (keyConventions.size < 20_000) keyConventions.set(k, c);
  }
  return c ?? undefined;
}

function classify(k: string): Convention | undefined {
  if (k.startsWith('gen_ai.')) return k.startsWith('gen_ai.prompt.') || k.startsWith('gen_ai.completion.') ? 'openllmetry' : 'genai';
  if (k.startsWith('ai.')) return 'vercel';
  if (k.startsWith('traceloop.')) return 'openllmetry';
  if (k.startsWith('llm.')) return isOpenLlmetryLlmKey(k) ? 'openllmetry' : 'openinference';
  return k === OI.SPAN_KIND ? 'openinference' : undefined;
}

/** OpenLLMetry's own `llm.*` keys (its older releases wrote prompts, vendor and model there). */
const OPENLLMETRY_LLM_KEYS = new Set([
  'llm.request.type',
  'llm.request.model',
  'llm.response.model',
  'llm.vendor',
  'llm.is_streaming',
  'llm.headers',
  'llm.user',
  'llm.temperature',
  'llm.top_p',
  'llm.frequency_penalty',
  'llm.presence_penalty',
  'llm.chat.stop_sequences',
]);

function isOpenLlmetryLlmKey(k: string): boolean {
  if (OPENLLMETRY_LLM_KEYS.has(k) || k.startsWith('llm.usage.') || k.startsWith('llm.completions.') || k.startsWith('llm.request.functions.')) return true;
  // OpenInference writes llm.prompts.{i}.prompt.text; OpenLLMetry llm.prompts.{i}.role / .content.
  return k.startsWith('llm.prompts.') && !k.endsWith('.prompt.text');
}

export const seenList = (s: Seen): Convention[] => (Object.keys(s) as Convention[]).filter((k) => s[k]);

const GENAI_OPERATIONS: Record<string, OiSpanKind> = {
  chat: 'LLM',
  text_completion: 'LLM',
  generate_content: 'LLM',
  embeddings: 'EMBEDDING',
  retrieval: 'RETRIEVER',
  execute_tool: 'TOOL',
  create_agent: 'AGENT',
  invoke_agent: 'AGENT',
  plan: 'AGENT',
  invoke_workflow: 'CHAIN',
};

const TRACELOOP_KINDS: Record<string, OiSpanKind> = { workflow: 'CHAIN', task: 'CHAIN', agent: 'AGENT', tool: 'TOOL' };
const LLM_REQUEST_TYPES: Record<string, OiSpanKind> = { chat: 'LLM', completion: 'LLM', embedding: 'EMBEDDING', rerank: 'RERANKER' };

/**
 * Vercel AI SDK operation ids: the provider calls (`….doGenerate`, `….doStream`, `….doEmbed`)
 * are the LLM / EMBEDDING spans; the outer `ai.generateText`, `ai.streamText`, `ai.embed`, …
 * spans repeat the summed usage of their steps, so they are CHAIN, never counted as calls.
 */
function vercelKind(op: string): OiSpanKind {
  if (op.endsWith('.doGenerate') || op.endsWith('.doStream')) return 'LLM';
  if (op.endsWith('.doEmbed')) return 'EMBEDDING';
  if (op === 'ai.toolCall') return 'TOOL';
  return 'CHAIN';
}

/** The OpenInference span kind a span without `openinference.span.kind` should get, if any. */
export function inferKind(span: SpanRecord, seen: Seen): OiSpanKind | undefined {
  const a = span.attributes;
  // The gateway sets a kind on every span that is a call; its per-attempt child spans carry
  // GenAI keys but no kind on purpose, so that a call is counted once.
  if (a[TG.ORIGIN] !== undefined || a[TG.BACKEND] !== undefined) return undefined;
  if (seen.vercel) {
    const op = a['ai.operationId'] ?? (span.name.startsWith('ai.') ? span.name.split(' ')[0] : undefined);
    if (op) return vercelKind(op);
  }
  const op = a['gen_ai.operation.name'];
  if (op !== undefined && GENAI_OPERATIONS[op]) return GENAI_OPERATIONS[op];
  const requestType = a['llm.request.type'];
  if (requestType !== undefined && LLM_REQUEST_TYPES[requestType]) return LLM_REQUEST_TYPES[requestType];
  const tlKind = a['traceloop.span.kind'];
  if (tlKind !== undefined && TRACELOOP_KINDS[tlKind]) return TRACELOOP_KINDS[tlKind];
  if (a['gen_ai.tool.name'] !== undefined) return 'TOOL';
  if (a['gen_ai.agent.name'] !== undefined || a['gen_ai.agent.id'] !== undefined) return 'AGENT';
  // Older GenAI instrumentations (before gen_ai.operation.name): a provider and a model or usage.
  const provider = a['gen_ai.provider.name'] ?? a['gen_ai.system'];
  if (provider !== undefined && (a['gen_ai.request.model'] !== undefined || a['gen_ai.usage.input_tokens'] !== undefined || a['gen_ai.usage.prompt_tokens'] !== undefined)) {
    return 'LLM';
  }
  return undefined;
}
