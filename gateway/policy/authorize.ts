/**
 * Authorization of an authenticated call once its route is found (handlers/call.ts, before its
 * limits are counted): the key's allowed routes and models (globs; empty allows all). A request
 * without an identity (the master key, or authentication off) is not restricted here.
 */
import type { RuleConfig } from '../config/model.js';
import { GatewayError, gatewayClientError } from '../errors.js';
import { globToRegExp } from '../routing/match.js';
import type { ClientError } from '../providers/types.js';
import type { Identity } from './identity.js';

interface Compiled {
  routes: RegExp[];
  models: RegExp[];
}

/** Identities are built once per configuration load, so their globs are compiled once per load too. */
const compiled = new WeakMap<Identity, Compiled>();

function globsOf(identity: Identity): Compiled {
  let c = compiled.get(identity);
  if (!c) {
    c = { routes: identity.allowedRoutes.map(globToRegExp), models: identity.allowedModels.map(globToRegExp) };
    compiled.set(identity, c);
  }
  return c;
}

/** Whether the identity may ask for `model` (the name the client sent, or the one its alias continues as). */
export function modelAllowed(identity: Identity | undefined, ...names: string[]): boolean {
  if (!identity) return true;
  const { models } = globsOf(identity);
  return models.length === 0 || models.some((re) => names.some((n) => re.test(n)));
}

/** Whether the identity may use a Route (by the Route's name, or a rule's `route/rule` id). */
export function routeAllowed(identity: Identity | undefined, ...names: string[]): boolean {
  if (!identity) return true;
  const { routes } = globsOf(identity);
  return routes.length === 0 || routes.some((re) => names.some((n) => re.test(n)));
}

/** What a key was denied, for the refusal metric. */
export type Denial = 'route' | 'model';

export interface Denied {
  reason: Denial;
  /** The 403 in OpenAI's envelope (the handler gives /v1/messages clients Anthropic's). */
  error: ClientError;
  /** For the call span's tracegate.policy.* attributes. */
  span: { limit: 'allowedRoutes' | 'allowedModels'; scope: 'key'; reason: Denial };
}

/** The 403 when the identity may not use the matched rule or the requested model, else undefined. */
export function denial(identity: Identity | undefined, rule: RuleConfig, requested: string, model: string): Denied | undefined {
  if (!identity) return undefined;
  if (!routeAllowed(identity, rule.route, rule.id)) {
    const error = new GatewayError('permission_denied', `the API key "${identity.key}" may not use the route "${rule.route}"`);
    return { reason: 'route', error: gatewayClientError(error), span: { limit: 'allowedRoutes', scope: 'key', reason: 'route' } };
  }
  if (!modelAllowed(identity, requested, model)) {
    const error = new GatewayError('key_model_access_denied', `the API key "${identity.key}" may not use the model \`${requested}\``, { param: 'model' });
    return { reason: 'model', error: gatewayClientError(error), span: { limit: 'allowedModels', scope: 'key', reason: 'model' } };
  }
  return undefined;
}
