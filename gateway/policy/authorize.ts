/**
 * Authorization of an authenticated call once its route is found: the key's allowed routes and
 * models (globs; empty allows all). A request without an identity (the master key, or
 * authentication off) is not restricted here.
 */
import type { FastifyInstance } from 'fastify';
import type { RuleConfig } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { globToRegExp, type Router } from '../routing/match.js';
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

/** The 403 when the identity may not use the matched rule or the requested model, else undefined. */
export function denial(identity: Identity | undefined, rule: RuleConfig, requested: string, model: string): { reason: Denial; error: GatewayError } | undefined {
  if (!identity) return undefined;
  if (!routeAllowed(identity, rule.route, rule.id)) return { reason: 'route', error: new GatewayError('permission_denied', `the API key "${identity.key}" may not use the route "${rule.route}"`) };
  if (!modelAllowed(identity, requested, model)) return { reason: 'model', error: new GatewayError('key_model_access_denied', `the API key "${identity.key}" may not use the model \`${requested}\``, { param: 'model' }) };
  return undefined;
}

/**
 * Checks each model call of an identified caller once its body is parsed: the route it matches
 * (the same lookup the handler makes, cached by the router) and the model it asks for. A body
 * without a model, or one no route serves, is left to the handler's 400 and 404.
 */
export function installAuthorization(app: FastifyInstance, router: () => Router, refused: (reason: Denial) => void = () => {}): void {
  app.addHook('preHandler', (req, _reply, done) => {
    const identity = req.identity;
    if (!identity || req.method !== 'POST') return done();
    const model = (req.body as { model?: unknown } | undefined)?.model;
    if (typeof model !== 'string') return done();
    const hit = router().find(model, req.url.split('?', 1)[0], req.headers);
    if (!hit) return done();
    const denied = denial(identity, hit.rule, model, hit.model);
    if (!denied) return done();
    refused(denied.reason);
    done(denied.error);
  });
}
