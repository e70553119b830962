/**
 * Bounds on a configuration file's text, checked before the YAML parser sees it: a config is
 * small, text, and shallow. Past these bounds the parser would spend seconds (a megabyte of `[`)
 * or the file is plainly not a configuration (binary garbage), so it is refused at once with
 * one problem.
 */
import type { ConfigProblem } from './model.js';

/**
 * Largest config file read, in bytes. A real one with hundreds of routes is a few dozen KB; the
 * YAML parser needs ~0.7 s for 256 KB of small maps and up to ~4 s for one map of 18k keys (it is
 * quadratic in a mapping's keys), so the bound is kept low.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;
/** Deepest nesting of flow collections (`[`, `{`) and widest indentation accepted. */
export const MAX_FLOW_DEPTH = 64;
export const MAX_INDENT = 256;

/** The problem with `text` as a whole, or undefined when the parser may read it. */
export function textProblem(text: string, file?: string): ConfigProblem | undefined {
  const problem = (message: string): ConfigProblem => ({ path: 'file', message, file });
  if (Buffer.byteLength(text, 'utf8') > MAX_CONFIG_BYTES) return problem(`the file is larger than ${MAX_CONFIG_BYTES / 1024} KB; a configuration is much smaller`);
  if (text.includes('\u0000') || text.includes('\uFFFD')) return problem('the file is not UTF-8 text (it holds NUL bytes or invalid UTF-8)');
  const depth = nesting(text);
  if (depth.flow > MAX_FLOW_DEPTH) return problem(`values nest deeper than ${MAX_FLOW_DEPTH} levels`);
  if (depth.indent > MAX_INDENT) return problem(`a line is indented more than ${MAX_INDENT} columns`);
  return undefined;
}

/**
 * One linear pass: the deepest `[`/`{` nesting outside quotes and comments, and the widest
 * indentation. Approximate on purpose (a bracket inside a plain scalar counts), which only
 * matters for files far past any real configuration's depth.
 */
function nesting(text: string): { flow: number; indent: number } {
  let flow = 0;
  let maxFlow = 0;
  let maxIndent = 0;
  let quote = '';
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      lineStart = true;
      indent = 0;
      if (quote === '') continue;
    } else if (lineStart) {
      if (c === ' ') {
        maxIndent = Math.max(maxIndent, ++indent);
        continue;
      }
      lineStart = false;
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#') while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    else if (c === '[' || c === '{') maxFlow = Math.max(maxFlow, ++flow);
    else if ((c === ']' || c === '}') && flow > 0) flow--;
  }
  return { flow: maxFlow, indent: maxIndent };
}
