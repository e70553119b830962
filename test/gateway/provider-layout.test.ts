/**
 * The provider layout (gateway/providers/README.md): what is known about a provider lives in its
 * folder, gateway/providers/<kind>/, and the rest of the gateway reaches it through the registry.
 * This scan fails when gateway code outside the provider folders names a provider (a kind literal
 * such as 'anthropic') or one of their own headers (x-api-key, anthropic-version, x-amz-…):
 * such a match is provider knowledge in the core, and the next provider would have to touch it.
 *
 * String literals (and template pieces) are read with the TypeScript parser: comments, identifiers
 * and regular expressions are not matched.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROVIDER_KINDS } from '../../gateway/providers/kinds.js';
import { providerFor } from '../../gateway/providers/registry.js';

const ROOT = join(import.meta.dirname, '../..');
const GATEWAY = join(ROOT, 'gateway');

/**
 * Provider names matched: every kind but `openai` (also the name of the OpenAI client API every
 * endpoint but two speaks, and of the OpenAI-compatible default) and `simulated` (tracegate's own
 * responder, no outside provider).
 */
const NAMES = PROVIDER_KINDS.filter((k) => k !== 'openai' && k !== 'simulated');

/** Headers only some providers use: every provider's credential headers but the generic ones, and their own families. */
const GENERIC_HEADERS = new Set(['authorization', 'proxy-authorization']);
const HEADERS = [...new Set(PROVIDER_KINDS.flatMap((k) => [...providerFor(k).auth.secretHeaders, providerFor(k).auth.keyHeader ?? []].flat()))].filter((h) => !GENERIC_HEADERS.has(h));
const HEADER_FAMILIES = ['anthropic-', 'x-amz-', 'x-amzn-', 'x-goog-'];

/**
 * The only places outside provider folders allowed to hold such a literal, and which ones. Each
 * entry says why; an entry no longer needed fails the test, so the list stays tight.
 */
const ALLOWED: Record<string, { literals: string[]; why: string }> = {
  'gateway/providers/kinds.ts': { literals: NAMES, why: 'the one list of kinds (the config schema enum is made from it)' },
  'gateway/providers/registry.ts': { literals: NAMES, why: 'the exhaustive switch from a kind to its descriptor' },
  'gateway/providers/types.ts': {
    literals: ['anthropic', 'gemini'],
    why: "ClientApi: the APIs clients speak are named after their authors (the Messages endpoint is Anthropic's API, generate is Google's)",
  },
  'gateway/errors.ts': { literals: ['anthropic', 'gemini'], why: 'the error envelopes of those client APIs, built in the one place envelopes are built' },
  'gateway/providers/shared/errors.ts': { literals: ['anthropic'], why: "anthropicError: the Messages client API's envelope, for every provider that serves Messages clients" },
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The text of every string literal and template piece of a file, with its line. */
function literals(text: string): { value: string; line: number }[] {
  const source = ts.createSourceFile('scanned.ts', text, ts.ScriptTarget.Latest, true);
  const out: { value: string; line: number }[] = [];
  const add = (n: ts.Node, value: string) => out.push({ value, line: source.getLineAndCharacterOfPosition(n.getStart(source)).line + 1 });
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) add(n, n.text);
    ts.forEachChild(n, visit);
  };
  visit(source);
  return out;
}

/** What a literal names, if it names a provider or a provider's header. */
function named(value: string): string | undefined {
  const v = value.toLowerCase();
  if ((NAMES as readonly string[]).includes(v)) return v;
  if (HEADERS.includes(v)) return v;
  const family = HEADER_FAMILIES.find((f) => v.startsWith(f) && /^[a-z0-9-]+$/.test(v));
  return family ? v : undefined;
}

/** A file inside a provider's own folder (gateway/providers/<kind>/…): provider knowledge belongs there. */
function inProviderFolder(rel: string): boolean {
  const parts = rel.split('/');
  return parts[0] === 'gateway' && parts[1] === 'providers' && parts.length > 3 && (PROVIDER_KINDS as readonly string[]).includes(parts[2]);
}

describe('provider layout', () => {
  it('every kind has its folder with a descriptor, and the registry answers it with that kind', () => {
    for (const kind of PROVIDER_KINDS) {
      expect(existsSync(join(GATEWAY, 'providers', kind, 'descriptor.ts')), `gateway/providers/${kind}/descriptor.ts`).toBe(true);
      expect(providerFor(kind).kind).toBe(kind);
    }
  });

  it('the scanner reads literals, not comments or identifiers', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a source text with a template literal in it, for the scanner
    const found = literals("// 'azure' here\nconst azure = `x-api-key: ${a}!` + 'bedrock'; /* \"vertex\" */ const r = /'gemini'/g;\n").map((l) => l.value);
    expect(found).toEqual(['x-api-key: ', '!', 'bedrock']);
    expect(named('x-api-key')).toBe('x-api-key');
    expect(named('X-Amz-Date')).toBe('x-amz-date');
    expect(named('anthropic-beta')).toBe('anthropic-beta');
    expect(named('authorization')).toBeUndefined();
  });

  it('no gateway file outside the provider folders names a provider or a provider header, but the allowed ones', () => {
    const found: string[] = [];
    const used = new Map<string, Set<string>>();
    for (const file of tsFiles(GATEWAY)) {
      const rel = relative(ROOT, file).split(sep).join('/');
      if (inProviderFolder(rel)) continue;
      for (const { value, line } of literals(readFileSync(file, 'utf8'))) {
        const name = named(value);
        if (!name) continue;
        if (ALLOWED[rel]?.literals.includes(name)) {
          used.set(rel, (used.get(rel) ?? new Set()).add(name));
          continue;
        }
        found.push(`${rel}:${line} '${value}'`);
      }
    }
    expect(found, "move this knowledge into the provider's folder (its descriptor) and reach it through providerFor()").toEqual([]);
    // The allowlist stays tight: an entry nothing needs any more is removed.
    const stale = Object.entries(ALLOWED).flatMap(([rel, a]) => a.literals.filter((l) => !used.get(rel)?.has(l)).map((l) => `${rel} '${l}'`));
    expect(stale, 'allowlist entries no file needs').toEqual([]);
  });
});
