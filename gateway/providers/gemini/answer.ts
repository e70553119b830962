/**
 * Reading a `GenerateContentResponse` (a whole answer, or one chunk of a stream): each candidate's
 * text and function calls, its finish reason, and the ids OpenAI clients see for the calls.
 *
 * - Text parts are joined; `thought: true` parts (thinking summaries) are left out, as Anthropic's
 *   thinking blocks are; executable code, inline data and other part kinds are left out too.
 * - A `functionCall` part is a tool call with its `args` as JSON text. Its id is the call's own
 *   `id` when Google gave one, else `call_<responseId>_<n>`. A `thoughtSignature` on the part
 *   (Gemini 2.5 and 3 thinking models: required back with the call in the next turn) rides in the
 *   id after `THOUGHT_SIGNATURE_MARK`, so an OpenAI client that echoes its tool calls sends it back
 *   and the request side (chat/openai_gemini_contents.ts) restores it.
 */
import { isObject, str } from '../shared/helpers.js';
import type { ToolCallOut } from '../types.js';

type Json = Record<string, unknown>;

/** Separates a tool call's id from the thought signature carried in it. */
export const THOUGHT_SIGNATURE_MARK = '__thought__';

/** Gemini finish reason → OpenAI finish reason (a candidate with function calls that stopped: `tool_calls`). */
const FINISH: Record<string, string> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  IMAGE_RECITATION: 'content_filter',
};

export function finishReasonOf(reason: string | undefined, hasToolCalls: boolean): string {
  const mapped = (reason && FINISH[reason]) ?? 'stop';
  return hasToolCalls && mapped === 'stop' ? 'tool_calls' : mapped;
}

/** What one candidate (or one chunk of it) holds. */
export interface CandidateOut {
  index: number;
  text: string;
  toolCalls: ToolCallOut[];
  /** Gemini's own word (STOP, MAX_TOKENS, SAFETY, …), when given. */
  finish?: string;
  /** A part could not be read (function arguments nested past what JSON.stringify can walk). */
  unreadable?: true;
}

/** `v` as JSON text, or undefined when it cannot be written (nested too deep for the stack). */
function jsonText(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

/** A call id: the call's own, else derived from the answer's id and the call's position in its candidate. */
export function toolCallId(part: Json, fc: Json, responseId: string, n: number): string {
  const base = str(fc.id) || `call_${responseId || 'gemini'}_${n}`;
  const sig = str(part.thoughtSignature);
  return sig ? `${base}${THOUGHT_SIGNATURE_MARK}${sig}` : base;
}

/**
 * A candidate's parts. `firstCall` numbers the calls: in a stream, the calls an earlier chunk of
 * the same candidate already gave.
 */
export function readCandidate(c: Json, responseId: string, firstCall = 0): CandidateOut {
  const out: CandidateOut = { index: typeof c.index === 'number' ? c.index : 0, text: '', toolCalls: [] };
  if (str(c.finishReason)) out.finish = c.finishReason as string;
  const parts = isObject(c.content) && Array.isArray(c.content.parts) ? c.content.parts : [];
  for (const p of parts) {
    if (!isObject(p) || p.thought === true) continue;
    if (typeof p.text === 'string') out.text += p.text;
    else if (isObject(p.functionCall)) {
      const fc = p.functionCall;
      const args = jsonText(isObject(fc.args) ? fc.args : {});
      if (args === undefined) {
        out.unreadable = true;
        continue;
      }
      out.toolCalls.push({ id: toolCallId(p, fc, responseId, firstCall + out.toolCalls.length), name: str(fc.name) ?? '', arguments: args });
    }
  }
  return out;
}

/** The candidates of an answer or chunk, in their order. */
export function candidatesOf(answer: Json): Json[] {
  return Array.isArray(answer.candidates) ? answer.candidates.filter(isObject) : [];
}

/** Why the prompt was blocked (`promptFeedback.blockReason`), when it was. */
export function blockReasonOf(answer: Json): string | undefined {
  const fb = isObject(answer.promptFeedback) ? answer.promptFeedback : undefined;
  return str(fb?.blockReason);
}
