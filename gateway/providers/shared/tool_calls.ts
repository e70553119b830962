/**
 * An assistant message's OpenAI `tool_calls`, read the way every translation to another API needs
 * them: a name each, the arguments parsed into a JSON object (empty text is `{}`). Bad input is a
 * 400 naming the call.
 */
import { invalidParam } from './errors.js';
import { isObject, str } from './helpers.js';
import type { Result } from './params.js';

export interface ParsedToolCall {
  /** The client's id for the call, when it gave one. */
  id?: string;
  name: string;
  input: Record<string, unknown>;
}

export function parseToolCalls(calls: unknown, where: string): Result<ParsedToolCall[]> {
  if (calls === undefined || calls === null) return { ok: true, value: [] };
  if (!Array.isArray(calls)) return { ok: false, error: invalidParam(where, 'must be an array') };
  const out: ParsedToolCall[] = [];
  for (const [j, tc] of calls.entries()) {
    const fn = isObject(tc) && isObject(tc.function) ? tc.function : undefined;
    const name = str(fn?.name);
    if (!isObject(tc) || !name) return { ok: false, error: invalidParam(`${where}[${j}].function.name`, 'is required') };
    const args = str(fn?.arguments) ?? '';
    let input: unknown = {};
    if (args.trim() !== '') {
      try {
        input = JSON.parse(args);
      } catch {
        return { ok: false, error: invalidParam(`${where}[${j}].function.arguments`, 'is not valid JSON') };
      }
    }
    if (!isObject(input)) return { ok: false, error: invalidParam(`${where}[${j}].function.arguments`, 'must be a JSON object') };
    const call: ParsedToolCall = { name, input };
    if (str(tc.id)) call.id = tc.id as string;
    out.push(call);
  }
  return { ok: true, value: out };
}
