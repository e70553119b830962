/**
 * Authentication of /v1/* requests: on when the configuration has an ApiKey or a master key is
 * set. An onRequest hook (before the body is read) finds the presented key, answers 401 in the
 * client API's envelope for a missing, malformed, unknown, revoked or expired one, and decorates
 * the request with the key's Identity for authorization, limits, budgets and spans. The master
 * key passes with no identity. Nothing here logs or echoes what was presented.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { clientKeyHeaders } from '../providers/registry.js';
import type { RequestHeaders } from '../routing/match.js';
import type { Identity } from './identity.js';
import { wellFormedKey, type KeyIndex } from './keys.js';
import { masterKeyMatcher } from './master-key.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling: set for a request that presented a valid ApiKey; undefined with the master key or with authentication off. */
    identity?: Identity;
  }
}

export type Presented = { kind: 'none' } | { kind: 'malformed' } | { kind: 'key'; key: string };

const BEARER = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i;

/**
 * The credential a request carries: `Authorization: Bearer KEY`, else the first present of the
 * headers providers' SDKs send a bare key in (`clientKeyHeaders()`: Azure OpenAI's, Anthropic's,
 * Google's…). A key in a URL query (Google's `?key=`) is not read: URLs end up in logs.
 */
export function presentedKey(headers: RequestHeaders): Presented {
  const auth = headers.authorization;
  let raw = auth;
  if (raw === undefined) for (const h of clientKeyHeaders()) if ((raw = headers[h]) !== undefined) break;
  if (raw === undefined) return { kind: 'none' };
  if (typeof raw !== 'string') return { kind: 'malformed' };
  const key = auth !== undefined ? BEARER.exec(raw)?.[1] : raw.trim();
  return key !== undefined && wellFormedKey(key) ? { kind: 'key', key } : { kind: 'malformed' };
}

/** Why a request was refused, for the refusal metric (a fixed list: label values never come from a client). */
export const AUTH_REFUSALS = ['missing', 'malformed', 'unknown', 'revoked', 'expired'] as const;
export type AuthRefusal = (typeof AUTH_REFUSALS)[number];

const HOW = () =>
  `send Authorization: Bearer <key> (or ${clientKeyHeaders()
    .map((h) => `${h}: <key>`)
    .join(', ')})`;

const MESSAGES: Record<AuthRefusal, string> = {
  missing: `this gateway needs an API key: ${HOW()}`,
  malformed: `the credential sent is not an API key: ${HOW()}`,
  unknown: 'the API key sent is not valid for this gateway',
  revoked: 'the API key sent has been revoked',
  expired: 'the API key sent has expired',
};

export type Authenticated = { ok: true; identity: Identity | undefined } | { ok: false; reason: AuthRefusal; error: GatewayError };

const refuse = (reason: AuthRefusal): Authenticated => ({ ok: false, reason, error: new GatewayError('invalid_api_key', MESSAGES[reason]) });

export interface AuthOptions {
  /** Admin credential beside the ApiKeys (master-key.ts). */
  masterKey?: string;
  /** Wall clock in ms: expiry is checked against it on every request. */
  now: () => number;
}

export class Authenticator {
  private readonly isMaster: ((presented: string) => boolean) | undefined;
  private keys: KeyIndex | undefined;

  constructor(private readonly opts: AuthOptions) {
    this.isMaster = opts.masterKey === undefined ? undefined : masterKeyMatcher(opts.masterKey);
  }

  /** The ApiKeys of the configuration serving now (none: undefined). */
  setKeys(keys: KeyIndex | undefined): void {
    this.keys = keys?.size ? keys : undefined;
  }

  /** Whether /v1/* requests need a credential at all. */
  get enabled(): boolean {
    return this.isMaster !== undefined || this.keys !== undefined;
  }

  /** The caller's identity (undefined for the master key), or why it is refused. */
  identify(headers: RequestHeaders): Authenticated {
    const p = presentedKey(headers);
    if (p.kind === 'none') return refuse('missing');
    if (p.kind === 'malformed') return refuse('malformed');
    if (this.isMaster?.(p.key)) return { ok: true, identity: undefined };
    const found = this.keys?.lookup(p.key, this.opts.now());
    if (!found) return refuse('unknown');
    return found.ok ? { ok: true, identity: found.identity } : refuse(found.reason);
  }
}

/** Model API routes (OpenAI's and Anthropic's /v1/, Google's /v1beta/); /healthz and /metrics stay open for probes and scrapers. */
function needsKey(req: FastifyRequest): boolean {
  const route = req.routeOptions.url ?? '';
  return req.url.startsWith('/v1/') || req.url.startsWith('/v1beta/') || route.startsWith('/v1/') || route.startsWith('/v1beta/');
}

/** Installs the hook on `app`; call before it listens. `refused` counts each 401 by reason. */
export function installAuthentication(app: FastifyInstance, auth: Authenticator, refused: (reason: AuthRefusal) => void = () => {}): void {
  app.decorateRequest('identity', undefined);
  app.addHook('onRequest', (req, _reply, done) => {
    if (!auth.enabled || !needsKey(req)) return done();
    const r = auth.identify(req.headers);
    if (!r.ok) {
      refused(r.reason);
      return done(r.error);
    }
    req.identity = r.identity;
    done();
  });
}
