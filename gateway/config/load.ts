/**
 * Reads a YAML file of resource documents into a frozen GatewayConfig, or into the complete list
 * of problems with their paths and lines: nothing is half-applied.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { z } from 'zod';
import { MAX_CONFIG_BYTES, textProblem } from './guard.js';
import { deepFreeze, type BackendConfig, type ConfigProblem, type ConfigResult, type GatewayConfig, type RouteConfig } from './model.js';
import { parseConfigInWorker, type ThreadLoadOptions } from './parse-thread.js';
import { compileBackend } from './backend.js';
import { compileMcp } from './mcp.js';
import { compilePolicy } from './policy.js';
import {
  apiKeySpec,
  backendSpec,
  envelopeSchema,
  gatewaySpec,
  mcpServerSpec,
  routeSpec,
  teamSpec,
  type ApiKeySpec,
  type BackendSpec,
  type GatewaySpec,
  type Kind,
  type McpServerSpec,
  type RouteSpec,
  type TeamSpec,
} from './schema.js';
import { resolveSecret, type SecretSources } from './secrets.js';
import { evaluatorSpec, evaluatorVersion, type EvaluatorConfig, type EvaluatorSpec } from '../../schemas/evaluator.js';

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  readFile?: (path: string) => string;
}

type Path = (string | number)[];

/** A document whose envelope and spec passed their schemas. */
type Parsed =
  | { kind: 'Gateway'; name: string; labels?: Record<string, string>; spec: GatewaySpec; at: Located }
  | { kind: 'Backend'; name: string; labels?: Record<string, string>; spec: BackendSpec; at: Located }
  | { kind: 'Route'; name: string; labels?: Record<string, string>; spec: RouteSpec; at: Located }
  | { kind: 'ApiKey'; name: string; labels?: Record<string, string>; spec: ApiKeySpec; at: Located }
  | { kind: 'Team'; name: string; labels?: Record<string, string>; spec: TeamSpec; at: Located }
  | { kind: 'Evaluator'; name: string; labels?: Record<string, string>; spec: EvaluatorSpec; at: Located }
  | { kind: 'McpServer'; name: string; labels?: Record<string, string>; spec: McpServerSpec; at: Located };

/** Turns a path inside one document into a problem with line and column. */
type Located = (path: Path, message: string) => ConfigProblem;

export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function locator(doc: Document, lines: LineCounter, label: string, file?: string): Located {
  return (path, message) => {
    let node: unknown;
    for (let n = path.length; n >= 0 && !node; n--) node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    const pos = range ? lines.linePos(range[0]) : undefined;
    return { path: path.length ? `${label} ${formatPath(path)}` : label, message, file, line: pos?.line, column: pos?.col };
  };
}

function specIssues(issues: z.core.$ZodIssue[], at: Located, prefix: Path): ConfigProblem[] {
  return issues.map((i) => at([...prefix, ...(i.path as Path)], i.message));
}

/** Validates one document: envelope first, then the spec of its kind. */
function parseDocument(js: unknown, at: Located, label: (kind: string, name: string) => Located, invalid: Set<string>): Parsed | ConfigProblem[] {
  const env = envelopeSchema.safeParse(js);
  if (!env.success) return specIssues(env.error.issues, at, []);
  const { kind, metadata } = env.data;
  // Named but invalid: later checks must not also report it as missing.
  invalid.add(`${kind}/${metadata.name}`);
  const here = label(kind, metadata.name);
  const base = { name: metadata.name, labels: metadata.labels, at: here };
  const k: Kind = kind;
  switch (k) {
    case 'Gateway': {
      const r = gatewaySpec.safeParse(env.data.spec ?? {});
      return r.success ? { kind: k, ...base, spec: r.data } : specIssues(r.error.issues, here, ['spec']);
    }
    case 'Backend': {
      const r = backendSpec.safeParse(env.data.spec);
      return r.success ? { kind: k, ...base, spec: r.data } : specIssues(r.error.issues, here, ['spec']);
    }
    case 'Route': {
      const r = routeSpec.safeParse(env.data.spec);
      return r.success ? { kind: k, ...base, spec: r.data } : specIssues(r.error.issues, here, ['spec']);
    }
    case 'ApiKey': {
      const r = apiKeySpec.safeParse(env.data.spec);
      return r.success ? { kind: k, ...base, spec: r.data } : specIssues(r.error.issues, here, ['spec']);
    }
    case 'Team': {
      const r = teamSpec.safeParse(env.data.spec ?? {});
      return r.success ? { kind: k, ...base, spec: r.data } : specIssues(r.error.issues, here, ['spec']);
    }
    case 'Evaluator': {
      const r = evaluatorSpec.safeParse(env.data.spec);
      return r.success ? { kind: k, ...base, spec: r.data } : specIssues(r.error.issues, here, ['spec']);
    }
    case 'McpServer': {
      const r = mcpServerSpec.safeParse(env.data.spec);
      return r.success ? { kind: k, ...base, spec: r.data } : specIssues(r.error.issues, here, ['spec']);
    }
    default: {
      const never: never = k;
      throw new Error(`kind ${String(never)} has no schema`);
    }
  }
}

function compileRoute(d: Extract<Parsed, { kind: 'Route' }>, gw: GatewaySpec, backends: Map<string, BackendConfig>, invalid: Set<string>, problems: ConfigProblem[]): RouteConfig {
  const missing = (name: string) => !backends.has(name) && !invalid.has(`Backend/${name}`);
  const rules = d.spec.rules.map((r, i) => {
    r.targets.forEach((t, j) => {
      if (missing(t.backend)) problems.push(d.at(['spec', 'rules', i, 'targets', j, 'backend'], `unknown backend "${t.backend}"`));
    });
    r.fallbacks.forEach((f, j) => {
      if (missing(f.backend)) problems.push(d.at(['spec', 'rules', i, 'fallbacks', j, 'backend'], `unknown backend "${f.backend}"`));
    });
    return {
      id: r.name ? `${d.name}/${r.name}` : d.spec.rules.length > 1 ? `${d.name}/${i}` : d.name,
      route: d.name,
      name: r.name,
      matches: r.matches,
      targets: r.targets,
      fallbacks: r.fallbacks,
      timeouts: { ...gw.defaults.timeouts, ...r.timeouts },
      retry: { ...gw.defaults.retry, ...r.retry, backoff: { ...gw.defaults.retry.backoff, ...r.retry?.backoff } },
    };
  });
  return { name: d.name, labels: d.labels, hostnames: d.spec.hostnames, rules };
}

/** Cross-document checks and compilation, once every document passed its own schema. */
function compile(docs: Parsed[], invalid: Set<string>, secrets: SecretSources, problems: ConfigProblem[], source?: string): GatewayConfig {
  const gateways = docs.filter((d) => d.kind === 'Gateway');
  for (const d of gateways.slice(1)) problems.push(d.at(['kind'], 'only one Gateway document is allowed'));
  const gw = gateways[0]?.spec ?? gatewaySpec.parse({});
  const seen = new Set<string>();
  for (const d of docs) {
    const id = `${d.kind}/${d.name}`;
    if (seen.has(id)) problems.push(d.at(['metadata', 'name'], `another ${d.kind} is already named "${d.name}"`));
    seen.add(id);
  }
  const keys = new Map<string, string>();
  const providerSecrets = new Map<string, Readonly<Record<string, string>>>();
  const backends = new Map<string, BackendConfig>();
  for (const d of docs) if (d.kind === 'Backend' && !backends.has(d.name)) backends.set(d.name, compileBackend(d, gw, secrets, { keys, providerSecrets }, problems));
  const routes = docs.flatMap((d) => (d.kind === 'Route' ? [compileRoute(d, gw, backends, invalid, problems)] : []));
  const keyDocs = docs.flatMap((d) => (d.kind === 'ApiKey' ? [d] : []));
  const teamDocs = docs.flatMap((d) => (d.kind === 'Team' ? [d] : []));
  const { apiKeys, teams } = compilePolicy(keyDocs, teamDocs, gw, invalid, problems);
  const evaluators = new Map<string, EvaluatorConfig>();
  const evaluatorKeys = new Map<string, string>();
  for (const d of docs) {
    if (d.kind !== 'Evaluator' || evaluators.has(d.name)) continue;
    evaluators.set(d.name, { name: d.name, version: evaluatorVersion(d.spec), spec: d.spec });
    const ref = d.spec.type === 'llm-judge' ? d.spec.judge.apiKey : undefined;
    if (!ref) continue;
    const r = resolveSecret({ ...ref, optional: false }, secrets);
    if (r.ok) evaluatorKeys.set(d.name, r.value);
    else problems.push(d.at(['spec', 'judge', 'apiKey'], r.message));
  }
  const mcp = compileMcp(
    docs.flatMap((d) => (d.kind === 'McpServer' ? [d] : [])),
    gw,
    secrets,
    problems,
  );
  return { gateway: gw, backends, routes, keys, providerSecrets, apiKeys, teams, evaluators, evaluatorKeys, ...mcp, source };
}

/** Aliases a file may resolve: a few shared blocks, never a "billion laughs" expansion. */
const MAX_ALIAS_COUNT = 100;

/**
 * Parses and validates config text. Relative secret files are read from the config file's folder.
 * Never throws: whatever the text, the answer is a config or its problems.
 */
export function parseConfig(text: string, opts: LoadOptions = {}): ConfigResult {
  const bad = textProblem(text, opts.file);
  if (bad) return { ok: false, problems: [bad] };
  try {
    return parseText(text, opts);
  } catch (err) {
    // The parser's own guards (alias expansion, stack depth) throw; report them as the file's problem.
    const message =
      err instanceof ReferenceError ? 'too many YAML aliases (*ref): the file expands beyond what a configuration needs' : `the file cannot be read as a configuration (${(err as Error).name})`;
    return { ok: false, problems: [{ path: 'file', message, file: opts.file }] };
  }
}

function parseText(text: string, opts: LoadOptions): ConfigResult {
  const lines = new LineCounter();
  const problems: ConfigProblem[] = [];
  const parsed: Parsed[] = [];
  const invalid = new Set<string>();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  if (!Array.isArray(docs)) return { ok: false, problems: [{ path: 'file', message: 'not a YAML stream', file: opts.file }] };
  docs.forEach((doc, i) => {
    const docLabel = `document ${i + 1}`;
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const pos = lines.linePos(e.pos[0]);
        problems.push({ path: docLabel, message: e.message.split('\n')[0], file: opts.file, line: pos.line, column: pos.col });
      }
      return;
    }
    if (doc.contents === null) return; // an empty document (a stray `---`)
    const label = (kind: string, name: string) => locator(doc, lines, `${kind}/${name}`, opts.file);
    const r = parseDocument(doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), locator(doc, lines, docLabel, opts.file), label, invalid);
    if (Array.isArray(r)) problems.push(...r);
    else {
      invalid.delete(`${r.kind}/${r.name}`);
      parsed.push(r);
    }
  });
  const secrets: SecretSources = {
    env: opts.env ?? process.env,
    baseDir: opts.file ? dirname(resolve(opts.file)) : process.cwd(),
    readFile: opts.readFile,
  };
  const config = compile(parsed, invalid, secrets, problems, opts.file);
  if (!problems.length && config.routes.length === 0 && config.mcpServers.size === 0 && !config.gateway.allowEmpty) {
    problems.push({ path: 'file', file: opts.file, message: 'no Route: this configuration would serve nothing; set allowEmpty: true in the Gateway spec if that is meant' });
  }
  if (problems.length) return { ok: false, problems: bounded(problems, opts.file) };
  return { ok: true, config: deepFreeze(config) };
}

/** Problems listed at most, and characters of one message: a real file has a handful of short ones. */
export const MAX_PROBLEMS = 100;
const MAX_MESSAGE_CHARS = 500;

/**
 * 256 KB of empty documents is 100k problems, and a map of 20k unknown keys one problem naming
 * them all; each is logged on the event loop, so the list and its messages are cut.
 */
function bounded(problems: ConfigProblem[], file?: string): ConfigProblem[] {
  const cut = (p: ConfigProblem) => (p.message.length > MAX_MESSAGE_CHARS ? { ...p, message: `${p.message.slice(0, MAX_MESSAGE_CHARS)}…` } : p);
  const listed = problems.slice(0, MAX_PROBLEMS).map(cut);
  if (problems.length > MAX_PROBLEMS) listed.push({ path: 'file', file, message: `${problems.length - MAX_PROBLEMS} more problems not listed` });
  return listed;
}

/** Reads a config file's text, or the one problem why not (missing, a folder, too large). Never throws. */
export async function readConfigText(file: string): Promise<{ text: string } | { problem: ConfigProblem }> {
  const problem = (message: string) => ({ problem: { path: 'file', file, message } });
  try {
    const st = await stat(file);
    if (!st.isFile()) return problem(st.isDirectory() ? 'this is a folder, not a config file' : 'this is not a regular file');
    if (st.size > MAX_CONFIG_BYTES) return problem(`the file is larger than ${MAX_CONFIG_BYTES / 1024} KB; a configuration is much smaller`);
    return { text: await readFile(file, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return problem(code === 'ENOENT' ? 'the config file does not exist (deleted or renamed away?)' : `cannot read the config file (${code ?? (err as Error).message})`);
  }
}

/**
 * Reads a config file and validates it on a worker thread (parse-thread.ts), refused past its time
 * limit; a file that cannot be read is one problem, not a throw.
 */
export async function loadConfigFile(file: string, opts: Omit<ThreadLoadOptions, 'file'> = {}): Promise<ConfigResult> {
  const read = await readConfigText(file);
  if ('problem' in read) return { ok: false, problems: [read.problem] };
  return parseConfigInWorker(read.text, { ...opts, file });
}
