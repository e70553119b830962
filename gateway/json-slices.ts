/**
 * Long strings of a body parsed on a JSON thread, given back as ranges of the body's text. The
 * text goes back to the event loop anyway (rawBody, an answer's body); a prompt or an answer of
 * MBs inside the value went back as a second copy, which the event loop took 5-25 ms to
 * deserialize and which doubled the large strings its collector sweeps. A range costs nothing:
 * `text.slice()` of a flat string is a view into it, not a copy.
 */
import type { LongString } from './handlers/body.js';

/** Strings from this length on go back as ranges. */
export const SLICE_CHARS = 64 * 1024;

/** A string of the value at `path`, which is `text.slice(start, end)`. */
export interface TextSlice {
  path: (string | number)[];
  start: number;
  end: number;
}

type Holder = { value: unknown };

/** The object or array holding `path`'s last step, and that step (an empty object when the path does not lead there). */
function parentOf(holder: Holder, path: (string | number)[]): [Record<string | number, unknown>, string | number] {
  let node: unknown = holder;
  let key: string | number = 'value';
  for (const step of path) {
    const next = (node as Record<string | number, unknown>)[key];
    if (typeof next !== 'object' || next === null || Object.hasOwn(next, step) === false) return [{}, ''];
    node = next;
    key = step;
  }
  return [node as Record<string | number, unknown>, key];
}

/** Collects the candidates checkJsonText reports (its `long` argument). */
export function longStrings(): { found: TextSlice[]; long: LongString } {
  const found: TextSlice[] = [];
  return { found, long: (path, start, end) => void found.push({ path, start, end }) };
}

/**
 * On the thread: the candidates that are what the parsed value holds at their path (a repeated
 * key or an escaped one can point elsewhere) are blanked in the value and returned.
 */
export function cutLongStrings(text: string, holder: Holder, candidates: TextSlice[]): TextSlice[] {
  const cut: TextSlice[] = [];
  for (const c of candidates) {
    const [parent, key] = parentOf(holder, c.path);
    const v = parent[key];
    if (typeof v !== 'string' || v.length !== c.end - c.start || v !== text.slice(c.start, c.end)) continue;
    parent[key] = '';
    cut.push(c);
  }
  return cut;
}

/** On the event loop: the blanked strings put back as views into `text`. */
export function restoreLongStrings(text: string, holder: Holder, slices: readonly TextSlice[]): void {
  for (const s of slices) {
    const [parent, key] = parentOf(holder, s.path);
    if (parent[key] === '') parent[key] = text.slice(s.start, s.end);
  }
}
