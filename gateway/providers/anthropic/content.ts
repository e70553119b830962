/**
 * Reading an Anthropic `message`'s content blocks: text joined, `tool_use` blocks as tool calls
 * (input as JSON text). `forcedName` names a tool whose input is really the answer text (the
 * json_schema response format forced through a tool); `thinking` blocks are left out.
 */
import { isObject, str } from '../shared/helpers.js';
import type { ToolCallOut } from '../types.js';

export interface MessageOut {
  text: string;
  toolCalls: ToolCallOut[];
}

export function readContent(content: unknown, forcedName: string | undefined): MessageOut {
  const out: MessageOut = { text: '', toolCalls: [] };
  if (!Array.isArray(content)) return out;
  for (const b of content) {
    if (!isObject(b)) continue;
    if (b.type === 'text') out.text += str(b.text) ?? '';
    else if (b.type === 'tool_use' && forcedName !== undefined && b.name === forcedName) out.text += JSON.stringify(b.input ?? {});
    else if (b.type === 'tool_use') out.toolCalls.push({ id: str(b.id) ?? '', name: str(b.name) ?? '', arguments: JSON.stringify(b.input ?? {}) });
  }
  return out;
}
