/**
 * The call path's view of the policy (handlers/call.ts): admit before anything is sent, the
 * usage a call settles with, and the stream guard that cuts an answer running past its
 * reservation. Usage is what the call's span records: the provider's, else the tokenizer's
 * estimate, so the counters and the ledger rebuilt from spans agree.
 */
import type { CallInput, CallResult } from '../proxy/types.js';
import { estimateChatUsage, estimateEmbeddingUsage } from '../tokenizer.js';
import { GatewayError, gatewayClientError } from '../errors.js';
import type { ClientError, ResponseFacts, Usage } from '../providers/types.js';

/** Usage to settle with: none for a failed call (its reservation is released). */
export function settledUsage(input: CallInput, r: CallResult): Usage | undefined {
  if (!r.ok) return undefined;
  if (r.facts.usage) return r.facts.usage;
  if (input.endpoint === 'embeddings') return estimateEmbeddingUsage(input.clientBody);
  if (input.endpoint === 'chat') return estimateChatUsage(input.clientBody, r.facts.outputText ?? '', r.facts.toolCalls);
  return undefined;
}

/**
 * Output tokens a stream has produced so far, counted cheaply on every chunk: characters / 4
 * (English runs at about 4 per token), so a stream is cut near, not exactly at, its reservation.
 */
export function outputTokensSoFar(facts: ResponseFacts): number {
  let chars = facts.outputText?.length ?? 0;
  for (const c of facts.toolCalls ?? []) chars += c.name.length + c.arguments.length;
  return Math.ceil(chars / 4);
}

/** The error event of a stream cut at its reservation. */
export function overrunError(): ClientError {
  return gatewayClientError(new GatewayError('insufficient_quota', 'The answer ran past the budget reserved for it and was cut (set max_tokens to reserve what the answer needs).'));
}
