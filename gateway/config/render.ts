/**
 * Control plane → Kubernetes Gateway API, as Envoy AI Gateway does for its AIGatewayRoute: one
 * `HTTPRoute` per Route (same name), one rule per match, the model carried in a header
 * (`x-ai-model` by default; the data plane in front sets it from the body), weighted backendRefs.
 * What Gateway API cannot say (fallback order, per-target model names) is kept in annotations and
 * backendRef header filters, and listed as warnings.
 */
import { stringify } from 'yaml';
import { isGlob } from '../routing/match.js';
import type { BackendConfig, GatewayConfig, MatchConfig, RouteConfig, RuleConfig } from './model.js';
import { renderMcpRoute } from './render-mcp.js';
import { gatewayApiDuration } from './units.js';

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'tracegate' };
/** Request header carrying the per-target model name to the data plane. */
export const MODEL_OVERRIDE_HEADER = 'x-ai-model-override';
const MAX_RULES = 16;
const MAX_BACKEND_REFS = 16;

type Obj = Record<string, unknown>;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function globRegex(glob: string): string {
  return `^${glob
    .split('*')
    .map((part) => part.split('?').map(escapeRegExp).join('.'))
    .join('.*')}$`;
}

function renderMatch(m: MatchConfig, modelHeader: string): Obj {
  const headers: Obj[] = [];
  if (m.model !== undefined) {
    headers.push(isGlob(m.model) ? { type: 'RegularExpression', name: modelHeader, value: globRegex(m.model) } : { type: 'Exact', name: modelHeader, value: m.model });
  }
  for (const h of m.headers ?? []) headers.push({ type: h.type, name: h.name, value: h.value });
  const out: Obj = { path: m.path ? { type: m.path.type, value: m.path.value } : { type: 'PathPrefix', value: '/' } };
  if (headers.length) out.headers = headers;
  return out;
}

function backendRef(b: BackendConfig | undefined, name: string, weight: number, model?: string): Obj {
  const ref = b?.backendRef;
  const out: Obj = {
    group: ref?.group ?? 'gateway.envoyproxy.io',
    kind: ref?.kind ?? 'Backend',
    name: ref?.name ?? name,
  };
  if (ref?.namespace) out.namespace = ref.namespace;
  if (ref?.port) out.port = ref.port;
  out.weight = weight;
  if (model) {
    out.filters = [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: MODEL_OVERRIDE_HEADER, value: model }] } }];
  }
  return out;
}

function renderRule(rule: RuleConfig, m: MatchConfig, config: GatewayConfig): Obj {
  const { modelHeader } = config.gateway.kubernetes;
  const out: Obj = {
    matches: [renderMatch(m, modelHeader)],
    backendRefs: rule.targets.map((t) => backendRef(config.backends.get(t.backend), t.backend, t.weight, t.model ?? m.as)),
    timeouts: { request: gatewayApiDuration(rule.timeouts.request), backendRequest: gatewayApiDuration(rule.timeouts.attempt) },
  };
  if (m.as) out.filters = [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: modelHeader, value: m.as }] } }];
  return out;
}

export interface RenderResult {
  resources: Obj[];
  /** What the rendered resources cannot express or would break (Gateway API limits). */
  warnings: string[];
}

function renderRoute(route: RouteConfig, config: GatewayConfig, warnings: string[]): Obj {
  const k8s = config.gateway.kubernetes;
  const rules = route.rules.flatMap((rule) => rule.matches.map((m) => renderRule(rule, m, config)));
  const fallbacks = route.rules.filter((r) => r.fallbacks.length).map((r) => ({ rule: r.id, fallbacks: r.fallbacks }));
  if (rules.length > MAX_RULES) warnings.push(`HTTPRoute ${route.name}: ${rules.length} rules, Gateway API allows ${MAX_RULES}; split the Route`);
  for (const r of route.rules) if (r.targets.length > MAX_BACKEND_REFS) warnings.push(`HTTPRoute ${route.name}: rule ${r.id} has more than ${MAX_BACKEND_REFS} targets`);
  if (route.rules.some((r) => r.targets.some((t) => t.model) || r.matches.some((m) => m.as))) {
    warnings.push(`HTTPRoute ${route.name}: model names per target travel in the ${MODEL_OVERRIDE_HEADER} header; the body's model is not rewritten by Gateway API`);
  }
  if (fallbacks.length) warnings.push(`HTTPRoute ${route.name}: fallbacks are kept in the tracegate.dev/fallbacks annotation; Gateway API has no fallback order`);
  const metadata: Obj = { name: route.name, labels: { ...route.labels, ...MANAGED_BY } };
  if (k8s.namespace) metadata.namespace = k8s.namespace;
  if (fallbacks.length) metadata.annotations = { 'tracegate.dev/fallbacks': JSON.stringify(fallbacks) };
  const spec: Obj = { parentRefs: k8s.parentRefs.map((p) => ({ ...p })) };
  if (route.hostnames?.length) spec.hostnames = [...route.hostnames];
  spec.rules = rules;
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata, spec };
}

export function renderHttpRoutes(config: GatewayConfig): RenderResult {
  const warnings: string[] = [];
  const resources = [...config.routes.map((r) => renderRoute(r, config, warnings)), ...renderMcpRoute(config, warnings)];
  return { resources, warnings };
}

/** Multi-document YAML, ready for `kubectl apply -f -`. */
export function toYaml(resources: Obj[]): string {
  return resources.map((r) => stringify(r, { lineWidth: 0 })).join('---\n');
}
