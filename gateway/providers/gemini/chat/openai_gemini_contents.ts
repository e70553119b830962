/**
 * OpenAI chat `messages` → Gemini `systemInstruction` + `contents`.
 *
 * - `system` and `developer` messages → `systemInstruction.parts` (text), wherever they appear.
 * - user content parts: `text` → `{text}`; `image_url` with a `data:` URL → `inlineData`, any other
 *   URL (https, gs://) → `fileData` with the MIME type its extension names; `input_audio` →
 *   `inlineData` (audio/wav, audio/mp3); `file` with `file_data` → `inlineData`. File ids have no
 *   Gemini equivalent: 400 naming the part.
 * - assistant `content` → text parts, `tool_calls` → `functionCall` parts (arguments parsed: bad
 *   JSON is a 400 naming them), role `model`; a thought signature carried in the call id
 *   (answer.ts) goes back on its part. An assistant message with nothing in it is dropped.
 * - `tool` messages → `functionResponse` parts in a user turn, named after the call they answer
 *   (found by `tool_call_id` among earlier assistant tool calls; unknown: 400). A JSON-object
 *   result is the response as it is; any other content is `{output: text}`, Gemini's key for a
 *   function's output.
 * - Adjacent turns of one role are merged (several results of parallel calls form one turn).
 */
import { invalidParam } from '../../shared/errors.js';
import { isObject, str } from '../../shared/helpers.js';
import type { ClientError } from '../../types.js';
import { THOUGHT_SIGNATURE_MARK } from '../answer.js';

type Json = Record<string, unknown>;
type Part = Json;
import type { Result } from '../../shared/params.js';
import { parseToolCalls } from '../../shared/tool_calls.js';

export interface GeminiContent {
  role: 'user' | 'model';
  parts: Part[];
}

export interface ConvertedContents {
  system: Part[];
  contents: GeminiContent[];
}

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;
const BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  mp3: 'audio/mp3',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  txt: 'text/plain',
};

const fail = (param: string, message: string): { ok: false; error: ClientError } => ({ ok: false, error: invalidParam(param, message) });

/** A `string | parts[]` content holding only text (system, developer, tool) → its text pieces. */
function texts(content: unknown, where: string): Result<string[]> {
  if (typeof content === 'string') return { ok: true, value: content ? [content] : [] };
  if (content === null || content === undefined) return { ok: true, value: [] };
  if (!Array.isArray(content)) return fail(where, 'must be a string or an array of content parts');
  const out: string[] = [];
  for (const [j, part] of content.entries()) {
    const text = isObject(part) ? (str(part.text) ?? str(part.refusal)) : undefined;
    if (text === undefined) return fail(`${where}[${j}]`, 'only text parts are supported here');
    if (text) out.push(text);
  }
  return { ok: true, value: out };
}

function mimeOfUrl(url: string): string {
  const path = url.split(/[?#]/, 1)[0];
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return BY_EXTENSION[ext] ?? 'image/jpeg';
}

function urlPart(url: string): Part {
  const m = DATA_URL.exec(url);
  return m ? { inlineData: { mimeType: m[1], data: m[2] } } : { fileData: { mimeType: mimeOfUrl(url), fileUri: url } };
}

function mediaPart(part: Json, type: string | undefined, at: string): Result<Part> {
  if (type === 'image_url') {
    const url = isObject(part.image_url) ? str(part.image_url.url) : str(part.image_url);
    return url ? { ok: true, value: urlPart(url) } : fail(`${at}.image_url.url`, 'is required');
  }
  if (type === 'input_audio') {
    const audio = isObject(part.input_audio) ? part.input_audio : {};
    const data = str(audio.data);
    if (!data) return fail(`${at}.input_audio.data`, 'is required');
    return { ok: true, value: { inlineData: { mimeType: audio.format === 'mp3' ? 'audio/mp3' : 'audio/wav', data } } };
  }
  if (type === 'file') {
    const file = isObject(part.file) ? part.file : {};
    const m = DATA_URL.exec(str(file.file_data) ?? '');
    if (!m) return fail(`${at}.file`, 'only inline file_data (a base64 data URL) is supported by gemini backends');
    return { ok: true, value: { inlineData: { mimeType: m[1], data: m[2] } } };
  }
  return fail(`${at}.type`, `content part type ${JSON.stringify(type ?? null)} is not supported by gemini backends`);
}

function userParts(content: unknown, where: string): Result<Part[]> {
  if (typeof content === 'string') return { ok: true, value: content ? [{ text: content }] : [] };
  if (!Array.isArray(content)) return fail(where, 'must be a string or an array of content parts');
  const out: Part[] = [];
  for (const [j, part] of content.entries()) {
    const at = `${where}[${j}]`;
    const type = isObject(part) ? str(part.type) : undefined;
    if (type === 'text') {
      const text = str((part as Json).text) ?? '';
      if (text) out.push({ text });
      continue;
    }
    const r = mediaPart(isObject(part) ? part : {}, type, at);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return { ok: true, value: out };
}

/** `tool_calls` → `functionCall` parts; records each call's name by id for the results that follow. */
function callParts(calls: unknown, where: string, names: Map<string, string>): Result<Part[]> {
  const parsed = parseToolCalls(calls, where);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    value: parsed.value.map((c) => {
      const id = c.id ?? '';
      if (id) names.set(id, c.name);
      const part: Part = { functionCall: { name: c.name, args: c.input } };
      const mark = id.indexOf(THOUGHT_SIGNATURE_MARK);
      if (mark >= 0) part.thoughtSignature = id.slice(mark + THOUGHT_SIGNATURE_MARK.length);
      return part;
    }),
  };
}

function modelParts(m: Json, where: string, names: Map<string, string>): Result<Part[]> {
  const text = texts(m.content, `${where}.content`);
  if (!text.ok) return text;
  const calls = callParts(m.tool_calls, `${where}.tool_calls`, names);
  if (!calls.ok) return calls;
  return { ok: true, value: [...text.value.map((t) => ({ text: t })), ...calls.value] };
}

function responsePart(m: Json, where: string, names: Map<string, string>): Result<Part[]> {
  const id = str(m.tool_call_id);
  if (!id) return fail(`${where}.tool_call_id`, 'is required for tool messages');
  const name = names.get(id);
  if (!name) return fail(`${where}.tool_call_id`, 'does not match a tool call of an earlier assistant message');
  const text = texts(m.content, `${where}.content`);
  if (!text.ok) return text;
  const output = text.value.join('');
  let response: Json = { output };
  try {
    const parsed: unknown = JSON.parse(output);
    if (isObject(parsed)) response = parsed;
  } catch {
    /* plain text: {output} */
  }
  return { ok: true, value: [{ functionResponse: { name, response } }] };
}

/** Adjacent turns of one role become one. */
function merge(turns: GeminiContent[]): GeminiContent[] {
  const out: GeminiContent[] = [];
  for (const t of turns) {
    const last = out[out.length - 1];
    if (last && last.role === t.role) last.parts.push(...t.parts);
    else out.push({ role: t.role, parts: [...t.parts] });
  }
  return out;
}

export function convertMessages(messages: unknown): Result<ConvertedContents> {
  if (!Array.isArray(messages)) return fail('messages', 'must be an array');
  const system: Part[] = [];
  const turns: GeminiContent[] = [];
  const names = new Map<string, string>();
  for (const [i, m] of messages.entries()) {
    const where = `messages[${i}]`;
    if (!isObject(m)) return fail(where, 'must be an object');
    let r: Result<Part[]>;
    let role: GeminiContent['role'] = 'user';
    switch (m.role) {
      case 'system':
      case 'developer': {
        const t = texts(m.content, `${where}.content`);
        if (!t.ok) return t;
        system.push(...t.value.map((text) => ({ text })));
        continue;
      }
      case 'user':
        r = userParts(m.content, `${where}.content`);
        break;
      case 'assistant':
        role = 'model';
        r = modelParts(m, where, names);
        break;
      case 'tool':
        r = responsePart(m, where, names);
        break;
      default:
        return fail(`${where}.role`, `role ${JSON.stringify(m.role ?? null)} is not supported by gemini backends`);
    }
    if (!r.ok) return r;
    if (r.value.length > 0) turns.push({ role, parts: r.value });
  }
  if (turns.length === 0) return fail('messages', 'at least one user or assistant message with content is required');
  return { ok: true, value: { system, contents: merge(turns) } };
}
