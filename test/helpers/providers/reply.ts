/**
 * What a stand-in answers, independent of the wire format. Tests may pass their own
 * `reply(body)`; the default is deterministic:
 * - when the request offers tools (and does not forbid them) and the last message is not a tool
 *   result: one call to the named or first tool with `DEFAULT_TOOL_ARGS`;
 * - when JSON output is asked (OpenAI `response_format`): `DEFAULT_JSON`;
 * - otherwise `DEFAULT_TEXT`.
 */
import { roughTokens } from './stub.js';

export const DEFAULT_TEXT = 'Hello from the stub model.';
export const DEFAULT_JSON = '{"answer":"Hello from the stub model."}';
export const DEFAULT_TOOL_ARGS = '{"city":"Paris","unit":"celsius"}';

export interface StubToolCall {
  id?: string;
  name: string;
  /** JSON text. */
  arguments: string;
}

export interface StubUsage {
  /** Fresh input tokens (Anthropic's `input_tokens`; for OpenAI the prompt minus cache reads). */
  input: number;
  output: number;
  cacheRead?: number;
  /** Anthropic only. */
  cacheWrite?: number;
  /** OpenAI only: part of `output`. */
  reasoning?: number;
}

export interface StubReply {
  text?: string;
  toolCalls?: StubToolCall[];
  /** Provider vocabulary; defaults follow the content (stop / end_turn, tool_calls / tool_use). */
  finishReason?: string;
  usage?: StubUsage;
  /** The model named in the answer; defaults to the requested one. */
  model?: string;
}

export type ReplyFn = (body: any) => StubReply;

function lastMessage(body: any): any {
  return Array.isArray(body?.messages) ? body.messages[body.messages.length - 1] : undefined;
}

function endsWithToolResult(body: any): boolean {
  const last = lastMessage(body);
  if (!last) return false;
  if (last.role === 'tool') return true;
  return Array.isArray(last.content) && last.content.some((b: any) => b?.type === 'tool_result');
}

function chosenTool(body: any): string | undefined {
  const tools: any[] = Array.isArray(body?.tools) ? body.tools : [];
  if (tools.length === 0 || endsWithToolResult(body)) return undefined;
  const tc = body.tool_choice;
  if (tc === 'none' || tc?.type === 'none') return undefined;
  const named = tc?.function?.name ?? (tc?.type === 'tool' ? tc.name : undefined);
  return named ?? tools[0]?.function?.name ?? tools[0]?.name;
}

export const defaultReply: ReplyFn = (body) => {
  const tool = chosenTool(body);
  if (tool) return { toolCalls: [{ name: tool, arguments: DEFAULT_TOOL_ARGS }] };
  const rf = body?.response_format?.type;
  if (rf === 'json_object' || rf === 'json_schema') return { text: DEFAULT_JSON };
  return { text: DEFAULT_TEXT };
};

/** Usage for a reply: the reply's own, else a rough count of the request and the answer. */
export function usageFor(body: any, reply: StubReply, fixed?: StubUsage): StubUsage {
  if (reply.usage) return reply.usage;
  if (fixed) return fixed;
  const prompt = roughTokens([body?.system, body?.messages, body?.input, body?.tools]);
  const out = roughTokens((reply.text ?? '') + (reply.toolCalls ?? []).map((c) => c.name + c.arguments).join(''));
  return { input: prompt, output: out };
}

let seq = 0;
/** Ids that look like the provider's (`chatcmpl-…`, `call_…`, `msg_…`, `toolu_…`). */
export function stubId(prefix: string): string {
  seq += 1;
  return `${prefix}${Date.now().toString(36)}${seq.toString(36).padStart(6, '0')}`;
}
