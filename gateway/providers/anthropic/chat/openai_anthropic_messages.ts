/**
 * OpenAI chat `messages` → Anthropic `system` + `messages`.
 *
 * - `system` and `developer` messages are hoisted into `system`, wherever they appear.
 * - user content parts: `text` → text block; `image_url` → image block (a `data:` URL becomes a
 *   base64 source, any other URL a url source); `file` with `file_data` (a data URL) → document
 *   block. Audio and file ids have no Anthropic equivalent: 400 naming the part.
 * - assistant `content` → text blocks, `tool_calls` → `tool_use` blocks (arguments parsed; bad
 *   JSON is a 400 naming it). An assistant message with nothing in it is dropped (Anthropic
 *   refuses empty text blocks).
 * - `tool` messages → `tool_result` blocks in a user turn; consecutive turns of one role are
 *   merged into one (Anthropic wants user and assistant to alternate), so several tool results
 *   and a following user message form one turn, tool results first.
 * - `cache_control` on a content part is kept, so prompt caching works through the gateway.
 */
import { invalidParam } from '../../shared/errors.js';
import { isObject, str } from '../../shared/helpers.js';
import { parseToolCalls } from '../../shared/tool_calls.js';
import type { ClientError } from '../../types.js';

type Block = Record<string, unknown>;
interface Turn {
  role: 'user' | 'assistant';
  content: string | Block[];
}

export interface ConvertedMessages {
  system: Block[];
  messages: Turn[];
}

type Result<T> = { ok: true; value: T } | { ok: false; error: ClientError };

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;

function textBlock(text: string, part?: Record<string, unknown>): Block {
  const b: Block = { type: 'text', text };
  if (part && isObject(part.cache_control)) b.cache_control = part.cache_control;
  return b;
}

/** A `string | parts[]` content holding only text (system, developer, tool) → text blocks. */
function textOnly(content: unknown, where: string): Result<Block[]> {
  if (typeof content === 'string') return { ok: true, value: content ? [textBlock(content)] : [] };
  if (content === null || content === undefined) return { ok: true, value: [] };
  if (!Array.isArray(content)) return { ok: false, error: invalidParam(where, 'must be a string or an array of content parts') };
  const out: Block[] = [];
  for (const [j, part] of content.entries()) {
    const text = isObject(part) ? (str(part.text) ?? str(part.refusal)) : undefined;
    if (text === undefined) return { ok: false, error: invalidParam(`${where}[${j}]`, 'only text parts are supported here') };
    if (text) out.push(textBlock(text, part as Record<string, unknown>));
  }
  return { ok: true, value: out };
}

function imageBlock(part: Record<string, unknown>, where: string): Result<Block> {
  const url = isObject(part.image_url) ? str(part.image_url.url) : str(part.image_url);
  if (!url) return { ok: false, error: invalidParam(`${where}.image_url.url`, 'is required') };
  const m = DATA_URL.exec(url);
  const source = m ? { type: 'base64', media_type: m[1], data: m[2] } : { type: 'url', url };
  const b: Block = { type: 'image', source };
  if (isObject(part.cache_control)) b.cache_control = part.cache_control;
  return { ok: true, value: b };
}

function documentBlock(part: Record<string, unknown>, where: string): Result<Block> {
  const file = isObject(part.file) ? part.file : {};
  const m = DATA_URL.exec(str(file.file_data) ?? '');
  if (!m) return { ok: false, error: invalidParam(`${where}.file`, 'only inline file_data (a base64 data URL) is supported by anthropic backends') };
  const b: Block = { type: 'document', source: { type: 'base64', media_type: m[1], data: m[2] } };
  if (str(file.filename)) b.title = file.filename;
  return { ok: true, value: b };
}

function userContent(content: unknown, where: string): Result<string | Block[]> {
  if (typeof content === 'string') return { ok: true, value: content };
  if (!Array.isArray(content)) return { ok: false, error: invalidParam(where, 'must be a string or an array of content parts') };
  const out: Block[] = [];
  for (const [j, part] of content.entries()) {
    const at = `${where}[${j}]`;
    const type = isObject(part) ? str(part.type) : undefined;
    let r: Result<Block>;
    if (type === 'text') r = { ok: true, value: textBlock(str((part as Block).text) ?? '', part as Block) };
    else if (type === 'image_url') r = imageBlock(part as Block, at);
    else if (type === 'file') r = documentBlock(part as Block, at);
    else return { ok: false, error: invalidParam(`${at}.type`, `content part type ${JSON.stringify(type ?? null)} is not supported by anthropic backends`) };
    if (!r.ok) return r;
    out.push(r.value);
  }
  return { ok: true, value: out };
}

function toolUseBlocks(calls: unknown, where: string): Result<Block[]> {
  const parsed = parseToolCalls(calls, where);
  if (!parsed.ok) return parsed;
  return { ok: true, value: parsed.value.map((c, j) => ({ type: 'tool_use', id: c.id ?? `toolu_${j}`, name: c.name, input: c.input })) };
}

function assistantTurn(m: Record<string, unknown>, where: string): Result<Turn | undefined> {
  const calls = toolUseBlocks(m.tool_calls, `${where}.tool_calls`);
  if (!calls.ok) return calls;
  if (typeof m.content === 'string' && calls.value.length === 0) {
    return { ok: true, value: m.content ? { role: 'assistant', content: m.content } : undefined };
  }
  const text = textOnly(m.content, `${where}.content`);
  if (!text.ok) return text;
  const blocks = [...text.value, ...calls.value];
  return { ok: true, value: blocks.length > 0 ? { role: 'assistant', content: blocks } : undefined };
}

function toolResultTurn(m: Record<string, unknown>, where: string): Result<Turn> {
  const id = str(m.tool_call_id);
  if (!id) return { ok: false, error: invalidParam(`${where}.tool_call_id`, 'is required for tool messages') };
  const block: Block = { type: 'tool_result', tool_use_id: id };
  if (typeof m.content === 'string') block.content = m.content;
  else {
    const text = textOnly(m.content, `${where}.content`);
    if (!text.ok) return text;
    block.content = text.value;
  }
  return { ok: true, value: { role: 'user', content: [block] } };
}

function toBlocks(content: string | Block[]): Block[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** Adjacent turns of one role become one turn. */
function mergeTurns(turns: Turn[]): Turn[] {
  const out: Turn[] = [];
  for (const t of turns) {
    const last = out[out.length - 1];
    if (last && last.role === t.role) last.content = [...toBlocks(last.content), ...toBlocks(t.content)];
    else out.push({ ...t });
  }
  return out;
}

export function convertMessages(messages: unknown): Result<ConvertedMessages> {
  if (!Array.isArray(messages)) return { ok: false, error: invalidParam('messages', 'must be an array') };
  const system: Block[] = [];
  const turns: Turn[] = [];
  for (const [i, m] of messages.entries()) {
    const where = `messages[${i}]`;
    if (!isObject(m)) return { ok: false, error: invalidParam(where, 'must be an object') };
    let r: Result<Turn | undefined>;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOnly(m.content, `${where}.content`);
        if (!text.ok) return text;
        system.push(...text.value);
        continue;
      }
      case 'user': {
        const c = userContent(m.content, `${where}.content`);
        r = c.ok ? { ok: true, value: { role: 'user', content: c.value } } : c;
        break;
      }
      case 'assistant':
        r = assistantTurn(m, where);
        break;
      case 'tool':
        r = toolResultTurn(m, where);
        break;
      default:
        return { ok: false, error: invalidParam(`${where}.role`, `role ${JSON.stringify(m.role ?? null)} is not supported by anthropic backends`) };
    }
    if (!r.ok) return r;
    if (r.value) turns.push(r.value);
  }
  if (turns.length === 0) return { ok: false, error: invalidParam('messages', 'at least one user or assistant message is required') };
  return { ok: true, value: { system, messages: mergeTurns(turns) } };
}
