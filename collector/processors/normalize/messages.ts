import type { Attributes } from '../../model.js';
import { attrString, tryJson, type Patch } from '../attrs.js';

type List = 'llm.input_messages' | 'llm.output_messages';

/** A chat message between the conventions, before it is flattened the OpenInference way. */
export interface Msg {
  role?: string;
  content?: string;
  name?: string;
  toolCallId?: string;
  toolCalls?: Array<{ id?: string; name?: string; arguments?: string }>;
  /** Image URLs or data URLs (message_content parts of type image). */
  images?: string[];
  finishReason?: string;
}

/** Whether the span already has OpenInference messages of this list (then none are derived). */
export const hasMessages = (p: Patch, list: List) => p.has(`${list}.0.message.role`) || p.has(`${list}.0.message.content`);

/** `llm.input_messages.{i}.message.role` and the rest, only where missing. */
export function writeMessages(p: Patch, list: List, msgs: readonly Msg[]): void {
  msgs.forEach((m, i) => {
    const at = `${list}.${i}.message.`;
    p.fill(`${at}role`, m.role);
    p.fill(`${at}content`, m.content);
    p.fill(`${at}name`, m.name);
    p.fill(`${at}tool_call_id`, m.toolCallId);
    m.toolCalls?.forEach((c, j) => {
      const tc = `${at}tool_calls.${j}.tool_call.`;
      p.fill(`${tc}id`, c.id);
      p.fill(`${tc}function.name`, c.name);
      p.fill(`${tc}function.arguments`, c.arguments);
    });
    m.images?.forEach((url, j) => {
      p.fill(`${at}contents.${j}.message_content.type`, 'image');
      p.fill(`${at}contents.${j}.message_content.image.image.url`, url);
    });
  });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const joinText = (texts: string[]) => (texts.length ? texts.join('\n') : undefined);

/** GenAI `gen_ai.input.messages` / `gen_ai.output.messages`: `[{role, parts:[…], finish_reason?}]`. */
export function genaiMessages(raw: string | undefined): Msg[] {
  const list = tryJson(raw);
  if (!Array.isArray(list)) return [];
  const out: Msg[] = [];
  for (const m of list) {
    if (!isObj(m)) continue;
    const parts = Array.isArray(m.parts) ? m.parts.filter(isObj) : [];
    const texts: string[] = [];
    const msg: Msg = { role: str(m.role), name: str(m.name), finishReason: str(m.finish_reason) };
    const responses: Msg[] = [];
    for (const part of parts) {
      switch (part.type) {
        case 'text':
          if (typeof part.content === 'string') texts.push(part.content);
          break;
        case 'tool_call':
          (msg.toolCalls ??= []).push({ id: str(part.id), name: str(part.name), arguments: part.arguments === undefined ? undefined : attrString(part.arguments) });
          break;
        case 'tool_call_response':
          // OpenInference keeps a tool result as its own `tool` message.
          responses.push({ role: 'tool', toolCallId: str(part.id), content: attrString(part.response) });
          break;
        case 'uri':
        case 'blob': {
          const url = imageUrl(part);
          if (url) (msg.images ??= []).push(url);
          break;
        }
        default:
          break;
      }
    }
    if (typeof m.content === 'string') texts.push(m.content);
    msg.content = joinText(texts);
    if (msg.content !== undefined || msg.toolCalls || msg.images || responses.length === 0) out.push(msg);
    out.push(...responses);
  }
  return out;
}

function imageUrl(part: Record<string, unknown>): string | undefined {
  const mime = str(part.mime_type) ?? '';
  if (part.modality !== 'image' && !mime.startsWith('image/')) return undefined;
  if (part.type === 'uri') return str(part.uri);
  const data = str(part.content);
  return data === undefined ? undefined : `data:${mime || 'image/*'};base64,${data}`;
}

/**
 * OpenLLMetry's flattened `gen_ai.prompt.{i}.*` / `gen_ai.completion.{i}.*` (role, content,
 * tool_call_id, tool_calls.{j}.{id,name,arguments}, finish_reason); its releases before the
 * GenAI names wrote the same under `llm.prompts.{i}.*` / `llm.completions.{i}.*`.
 */
export function openllmetryMessages(a: Attributes, prefix: 'gen_ai.prompt.' | 'gen_ai.completion.' | 'llm.prompts.' | 'llm.completions.'): Msg[] {
  const out: Msg[] = [];
  for (const key in a) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const dot = rest.indexOf('.');
    const i = Number(rest.slice(0, dot));
    if (dot < 1 || !Number.isInteger(i) || i > 10_000) continue;
    const m = (out[i] ??= {});
    const field = rest.slice(dot + 1);
    const v = a[key];
    if (field === 'role') m.role = v;
    else if (field === 'content') m.content = v;
    else if (field === 'tool_call_id') m.toolCallId = v;
    else if (field === 'finish_reason') m.finishReason = v;
    else if (field.startsWith('tool_calls.')) {
      const [j, name] = [Number(field.split('.')[1]), field.split('.').slice(2).join('.')];
      if (!Number.isInteger(j) || j > 1000) continue;
      const c = ((m.toolCalls ??= [])[j] ??= {});
      if (name === 'id') c.id = v;
      else if (name === 'name') c.name = v;
      else if (name === 'arguments') c.arguments = v;
    }
  }
  return Array.from(out, (m) => m ?? {}).map((m) => (m.toolCalls ? { ...m, toolCalls: Array.from(m.toolCalls, (c) => c ?? {}) } : m));
}

/** Vercel AI SDK `ai.prompt.messages`: `[{role, content: string | [{type:'text'|'tool-call'|'tool-result'|'image'|'file', …}]}]`. */
export function vercelPromptMessages(raw: string | undefined): Msg[] {
  const list = tryJson(raw);
  if (!Array.isArray(list)) return [];
  const out: Msg[] = [];
  for (const m of list) {
    if (!isObj(m)) continue;
    const role = str(m.role);
    if (typeof m.content === 'string') {
      out.push({ role, content: m.content });
      continue;
    }
    const parts = Array.isArray(m.content) ? m.content.filter(isObj) : [];
    const texts: string[] = [];
    const msg: Msg = { role };
    const results: Msg[] = [];
    for (const part of parts) {
      if (part.type === 'text' || part.type === 'reasoning') {
        if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      } else if (part.type === 'tool-call') {
        (msg.toolCalls ??= []).push(vercelToolCall(part));
      } else if (part.type === 'tool-result') {
        results.push({ role: 'tool', toolCallId: str(part.toolCallId), content: attrString(part.output ?? part.result) });
      } else if (part.type === 'image' || (part.type === 'file' && str(part.mediaType ?? part.mimeType)?.startsWith('image/'))) {
        const url = str(part.image) ?? str(part.data) ?? str(part.url);
        if (url) (msg.images ??= []).push(url);
      }
    }
    msg.content = joinText(texts);
    if (results.length && role === 'tool') out.push(...results);
    else out.push(msg, ...results);
  }
  return out;
}

/** A Vercel tool call (`ai.response.toolCalls` item or `tool-call` part): v4 `args`, v5 `input`. */
export function vercelToolCall(c: Record<string, unknown>): { id?: string; name?: string; arguments?: string } {
  const args = c.input ?? c.args;
  return { id: str(c.toolCallId), name: str(c.toolName), arguments: args === undefined ? undefined : attrString(args) };
}

export function vercelToolCalls(raw: string | undefined): Array<{ id?: string; name?: string; arguments?: string }> {
  const list = tryJson(raw);
  return Array.isArray(list) ? list.filter(isObj).map(vercelToolCall) : [];
}

/** The text of assistant messages, for `output.value`. */
export const messagesText = (msgs: readonly Msg[]) => joinText(msgs.flatMap((m) => (m.content === undefined ? [] : [m.content])));
