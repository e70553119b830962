/**
 * OpenAI chat `messages` → Bedrock Converse `system` + `messages`.
 *
 * - `system` and `developer` messages are hoisted into `system` (`[{text}]`), wherever they appear.
 * - user content parts: `text` → `{text}`; `image_url` with a `data:` URL → `{image: {format,
 *   source: {bytes}}}` (png, jpeg, gif, webp; Converse takes no image URL: any other URL is a 400);
 *   `file` with `file_data` → `{document: {format, name, source: {bytes}}}` (pdf, csv, doc, docx,
 *   xls, xlsx, html, txt, md). Audio parts and file ids: 400 naming the part.
 * - assistant `content` → `{text}` blocks, `tool_calls` → `{toolUse: {toolUseId, name, input}}`
 *   (arguments parsed; bad JSON is a 400 naming it). An assistant message with nothing in it is dropped.
 * - `tool` messages → `{toolResult: {toolUseId, content: [{text}]}}` in a user turn; consecutive
 *   turns of one role are merged (Converse wants user and assistant to alternate).
 * - Empty text parts are left out (Converse refuses a blank text block).
 * - `cache_control` on a part (system, user, tool text) → a `{cachePoint: {type: "default"}}` block
 *   after it, Converse's prompt-cache checkpoint.
 */
import { invalidParam } from '../../shared/errors.js';
import { isObject, str } from '../../shared/helpers.js';
import { parseToolCalls } from '../../shared/tool_calls.js';
import type { Result } from '../../shared/params.js';

export type Block = Record<string, unknown>;
export type { Result };
export interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

export interface ConverseMessages {
  system: Block[];
  messages: Turn[];
  /**
   * Names of the tools the conversation's toolUse blocks called, in order of first use; empty when
   * it holds no tool use or result. Converse requires a toolConfig whenever it holds either.
   */
  toolsUsed: string[];
  usesTools: boolean;
}

export const CACHE_POINT: Block = Object.freeze({ cachePoint: { type: 'default' } }) as Block;

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;
const IMAGE_FORMATS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };
const DOCUMENT_FORMATS: Record<string, string> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'text/html': 'html',
  'text/plain': 'txt',
  'text/markdown': 'md',
};

/** Blocks of one part: the part, then a cache point when the part asked for one. */
function withCachePoint(block: Block, part: unknown): Block[] {
  return isObject(part) && isObject(part.cache_control) ? [block, { ...CACHE_POINT }] : [block];
}

/** A `string | parts[]` content holding only text (system, developer, assistant, tool) → text blocks. */
function textBlocks(content: unknown, where: string): Result<Block[]> {
  if (typeof content === 'string') return { ok: true, value: content ? [{ text: content }] : [] };
  if (content === null || content === undefined) return { ok: true, value: [] };
  if (!Array.isArray(content)) return { ok: false, error: invalidParam(where, 'must be a string or an array of content parts') };
  const out: Block[] = [];
  for (const [j, part] of content.entries()) {
    const text = isObject(part) ? (str(part.text) ?? str(part.refusal)) : undefined;
    if (text === undefined) return { ok: false, error: invalidParam(`${where}[${j}]`, 'only text parts are supported here') };
    if (text) out.push(...withCachePoint({ text }, part));
  }
  return { ok: true, value: out };
}

function imageBlock(part: Block, where: string): Result<Block> {
  const url = isObject(part.image_url) ? str(part.image_url.url) : str(part.image_url);
  if (!url) return { ok: false, error: invalidParam(`${where}.image_url.url`, 'is required') };
  const m = DATA_URL.exec(url);
  if (!m) return { ok: false, error: invalidParam(`${where}.image_url.url`, 'bedrock backends take images as base64 data URLs only (data:image/png;base64,…)') };
  const format = IMAGE_FORMATS[m[1].toLowerCase()];
  if (!format) return { ok: false, error: invalidParam(`${where}.image_url.url`, `image type ${JSON.stringify(m[1]).slice(0, 60)} is not supported by bedrock backends (png, jpeg, gif, webp)`) };
  return { ok: true, value: { image: { format, source: { bytes: m[2] } } } };
}

/** Converse document names: letters, digits, single spaces, hyphens, parentheses and square brackets. */
function documentName(filename: string | undefined): string {
  const cleaned = (filename ?? '')
    .replace(/\.[A-Za-z0-9]{1,5}$/, '')
    .replace(/[^A-Za-z0-9\s\-()[\]]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.slice(0, 200) || 'document';
}

function documentBlock(part: Block, where: string): Result<Block> {
  const file = isObject(part.file) ? part.file : {};
  const m = DATA_URL.exec(str(file.file_data) ?? '');
  if (!m) return { ok: false, error: invalidParam(`${where}.file`, 'only inline file_data (a base64 data URL) is supported by bedrock backends') };
  const format = DOCUMENT_FORMATS[m[1].toLowerCase()];
  if (!format) return { ok: false, error: invalidParam(`${where}.file.file_data`, `document type ${JSON.stringify(m[1]).slice(0, 80)} is not supported by bedrock backends`) };
  return { ok: true, value: { document: { format, name: documentName(str(file.filename)), source: { bytes: m[2] } } } };
}

function userBlocks(content: unknown, where: string): Result<Block[]> {
  if (typeof content === 'string') return { ok: true, value: content ? [{ text: content }] : [] };
  if (!Array.isArray(content)) return { ok: false, error: invalidParam(where, 'must be a string or an array of content parts') };
  const out: Block[] = [];
  for (const [j, part] of content.entries()) {
    const at = `${where}[${j}]`;
    const type = isObject(part) ? str(part.type) : undefined;
    let r: Result<Block>;
    if (type === 'text') {
      const text = str((part as Block).text) ?? '';
      if (!text) continue;
      r = { ok: true, value: { text } };
    } else if (type === 'image_url') r = imageBlock(part as Block, at);
    else if (type === 'file') r = documentBlock(part as Block, at);
    else return { ok: false, error: invalidParam(`${at}.type`, `content part type ${JSON.stringify(type ?? null)} is not supported by bedrock backends`) };
    if (!r.ok) return r;
    out.push(...withCachePoint(r.value, part));
  }
  return { ok: true, value: out };
}

function toolUseBlocks(calls: unknown, where: string): Result<Block[]> {
  const parsed = parseToolCalls(calls, where);
  if (!parsed.ok) return parsed;
  return { ok: true, value: parsed.value.map((c, j) => ({ toolUse: { toolUseId: c.id ?? `tooluse_${j}`, name: c.name, input: c.input } })) };
}

function toolResult(m: Block, where: string): Result<Block[]> {
  const id = str(m.tool_call_id);
  if (!id) return { ok: false, error: invalidParam(`${where}.tool_call_id`, 'is required for tool messages') };
  const text = textBlocks(m.content, `${where}.content`);
  if (!text.ok) return text;
  const content = text.value.filter((b) => !('cachePoint' in b));
  const after = text.value.length > content.length ? [{ ...CACHE_POINT }] : [];
  return { ok: true, value: [{ toolResult: { toolUseId: id, content } }, ...after] };
}

/** One OpenAI message → its Converse role and blocks, or system blocks. */
function convertOne(m: Block, where: string): Result<{ role: 'system' | 'user' | 'assistant'; blocks: Block[] }> {
  const as = (role: 'system' | 'user' | 'assistant', r: Result<Block[]>) => (r.ok ? { ok: true as const, value: { role, blocks: r.value } } : r);
  switch (m.role) {
    case 'system':
    case 'developer':
      return as('system', textBlocks(m.content, `${where}.content`));
    case 'user':
      return as('user', userBlocks(m.content, `${where}.content`));
    case 'assistant': {
      const text = textBlocks(m.content, `${where}.content`);
      if (!text.ok) return text;
      const calls = toolUseBlocks(m.tool_calls, `${where}.tool_calls`);
      if (!calls.ok) return calls;
      return as('assistant', { ok: true, value: [...text.value.filter((b) => !('cachePoint' in b)), ...calls.value] });
    }
    case 'tool':
      return as('user', toolResult(m, where));
    default:
      return { ok: false, error: invalidParam(`${where}.role`, `role ${JSON.stringify(m.role ?? null)} is not supported by bedrock backends`) };
  }
}

export function convertMessages(messages: unknown): Result<ConverseMessages> {
  if (!Array.isArray(messages)) return { ok: false, error: invalidParam('messages', 'must be an array') };
  const system: Block[] = [];
  const turns: Turn[] = [];
  let usesTools = false;
  const toolsUsed = new Set<string>();
  for (const [i, m] of messages.entries()) {
    const where = `messages[${i}]`;
    if (!isObject(m)) return { ok: false, error: invalidParam(where, 'must be an object') };
    const r = convertOne(m, where);
    if (!r.ok) return r;
    const { role, blocks } = r.value;
    if (role === 'system') {
      system.push(...blocks);
      continue;
    }
    if (blocks.length === 0) continue;
    for (const b of blocks) {
      if ('toolResult' in b) usesTools = true;
      if (isObject(b.toolUse)) {
        usesTools = true;
        toolsUsed.add(b.toolUse.name as string);
      }
    }
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else turns.push({ role, content: [...blocks] });
  }
  if (turns.length === 0) return { ok: false, error: invalidParam('messages', 'at least one user or assistant message with content is required') };
  return { ok: true, value: { system, messages: turns, usesTools, toolsUsed: [...toolsUsed] } };
}
