/**
 * Route lookup: the first rule (routes and rules in file order) with a match for the request's
 * model, headers and path. Compiled once per config; lookups without header conditions are cached.
 */
import type { GatewayConfig, MatchConfig, RuleConfig } from '../config/model.js';

export interface RouteHit {
  rule: RuleConfig;
  /** The model the request continues as (after an alias). */
  model: string;
}

export type RequestHeaders = Record<string, string | string[] | undefined>;

type Pred = (model: string, path: string, headers: RequestHeaders) => boolean;

interface CompiledMatch {
  test: Pred;
  as?: string;
}

/** `*` any run of characters, `?` one character, everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export const isGlob = (s: string) => /[*?]/.test(s);

/** Gateway API PathPrefix: whole path elements (`/v1` matches `/v1/chat`, not `/v1x`). */
export function pathMatches(type: 'Exact' | 'PathPrefix', want: string, path: string): boolean {
  if (type === 'Exact') return path === want;
  const prefix = want.endsWith('/') ? want.slice(0, -1) : want;
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}

function header(headers: RequestHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function compileMatch(m: MatchConfig): CompiledMatch {
  const preds: Pred[] = [];
  if (m.model !== undefined) {
    const want = m.model;
    if (isGlob(want)) {
      const re = globToRegExp(want);
      preds.push((model) => re.test(model));
    } else preds.push((model) => model === want);
  }
  for (const h of m.headers ?? []) {
    const name = h.name.toLowerCase();
    if (h.type === 'RegularExpression') {
      const re = new RegExp(h.value);
      preds.push((_m, _p, headers) => re.test(header(headers, name) ?? ''));
    } else preds.push((_m, _p, headers) => header(headers, name) === h.value);
  }
  if (m.path) {
    const { type, value } = m.path;
    preds.push((_m, path) => pathMatches(type, value, path));
  }
  return { test: (model, path, headers) => preds.every((p) => p(model, path, headers)), as: m.as };
}

const CACHE_LIMIT = 10_000;

export interface Router {
  find(model: string, path: string, headers: RequestHeaders): RouteHit | undefined;
  /** Public model names: exact names and aliases, in config order, without duplicates. */
  models(): { id: string; route: string }[];
}

export function buildRouter(config: GatewayConfig): Router {
  const rules = config.routes.flatMap((r) => r.rules).map((rule) => ({ rule, matches: rule.matches.map(compileMatch) }));
  const usesHeaders = config.routes.some((r) => r.rules.some((rule) => rule.matches.some((m) => m.headers?.length)));
  const cache = new Map<string, RouteHit | null>();

  const scan = (model: string, path: string, headers: RequestHeaders): RouteHit | undefined => {
    for (const { rule, matches } of rules) {
      for (const m of matches) if (m.test(model, path, headers)) return { rule, model: m.as ?? model };
    }
    return undefined;
  };

  const publicModels = (() => {
    const seen = new Map<string, string>();
    for (const r of config.routes) {
      for (const rule of r.rules) for (const m of rule.matches) if (m.model && !isGlob(m.model) && !seen.has(m.model)) seen.set(m.model, r.name);
    }
    return [...seen].map(([id, route]) => ({ id, route }));
  })();

  return {
    find(model, path, headers) {
      if (usesHeaders) return scan(model, path, headers);
      const key = `${path}\n${model}`;
      const hit = cache.get(key);
      if (hit !== undefined) return hit ?? undefined;
      const found = scan(model, path, headers);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(key, found ?? null);
      return found;
    },
    models: () => publicModels,
  };
}
