import type { Attributes, SpanRecord } from '../model.js';

/** A non-negative integer attribute (the exporter stores ints in decimal), else undefined. */
export function intAttr(a: Attributes, key: string): number | undefined {
  const raw = a[key];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? Math.round(n) : undefined;
}

/** The first of `keys` that the span carries, as an integer. */
export function firstInt(a: Attributes, keys: readonly string[]): number | undefined {
  for (const k of keys) {
    const n = intAttr(a, k);
    if (n !== undefined) return n;
  }
  return undefined;
}

/** The first of `keys` with a non-empty value. */
export function firstStr(a: Attributes, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = a[k];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** JSON.parse that answers undefined instead of throwing. */
export function tryJson(raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** A value as an attribute string: strings as they are, everything else as JSON. */
export function attrString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v) ?? '';
}

/**
 * Attribute additions collected while reading a span, applied at the end in one go, so a span
 * a rule throws on is left as it was. `fill` never overwrites: a key the span (or an earlier
 * rule) already has wins. A Map, not an object: keys vary from span to span (message indexes).
 */
export class Patch {
  readonly sets = new Map<string, string>();
  constructor(private readonly base: Attributes) {}

  has(key: string): boolean {
    return this.base[key] !== undefined || this.sets.has(key);
  }

  get(key: string): string | undefined {
    return this.sets.get(key) ?? this.base[key];
  }

  fill(key: string, value: string | number | undefined): void {
    if (value === undefined || value === '' || this.has(key)) return;
    this.sets.set(key, typeof value === 'number' ? String(value) : value);
  }

  /** Sets even when present (for keys the processor owns). */
  set(key: string, value: string): void {
    if (this.base[key] !== value) this.sets.set(key, value);
  }

  get size(): number {
    return this.sets.size;
  }
}

/** A copy of an attribute map with changes (for maps that may be shared, e.g. a resource's). */
export function copyAttrs(a: Attributes, changes?: Attributes | Map<string, string>): Attributes {
  return { ...a, ...(changes instanceof Map ? Object.fromEntries(changes) : changes) };
}

/**
 * Writes the patch into the span's own attribute map and answers the span. In place: the
 * decoder builds a fresh span and map per request, so nothing else holds them, and copying a
 * ~2 KB map per stage was a third of the processor's time (see README, "Contract").
 */
export function applyPatch(span: SpanRecord, patch: Patch): SpanRecord {
  if (patch.size === 0) return span;
  const a = span.attributes;
  for (const [k, v] of patch.sets) a[k] = v;
  return span;
}
