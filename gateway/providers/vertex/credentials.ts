/**
 * Where Vertex AI access tokens come from:
 *
 * - a service account key (the JSON file Google issues): an RS256-signed JWT (iss = the account,
 *   aud = its `token_uri`, scope cloud-platform, one hour) exchanged at `token_uri` with grant
 *   type `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523), signed with node:crypto;
 * - the GCE / GKE / Cloud Run metadata server: `GET {metadata}/computeMetadata/v1/instance/
 *   service-accounts/default/token` with `Metadata-Flavor: Google`.
 *
 * Both answer `{access_token, expires_in, token_type}`. An answer is bounded (64 KiB, the cache's
 * time limit) and checked (a token of printable ASCII only: it goes into a header). Errors say
 * what failed and never hold the key, the assertion or a token.
 */
import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { request } from 'undici';
import { num, parseObject, str } from '../shared/helpers.js';
import type { AccessToken, TokenFetch } from './token-cache.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const METADATA_URL = 'http://metadata.google.internal';
const METADATA_TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Largest token answer read (a real one is well under 2 KiB). */
export const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;
const TOKEN_TEXT = /^[\x21-\x7e]{1,8192}$/;
/** A token said to live longer than a day is kept a day at most. */
const MAX_LIFE_S = 86_400;

export class CredentialError extends Error {
  override name = 'CredentialError';
}

export interface ServiceAccount {
  clientEmail: string;
  key: KeyObject;
  keyId?: string;
  tokenUri: string;
}

/** A service account key file's text → what signing needs; a clear error for anything else. */
export function parseServiceAccount(text: string): ServiceAccount {
  const j = parseObject(text);
  if (!j) throw new CredentialError('the service account key is not JSON (expected the key file Google issues)');
  const clientEmail = str(j.client_email);
  const pem = str(j.private_key);
  if (!clientEmail || !pem) throw new CredentialError('the service account key has no client_email or private_key');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new CredentialError(`the private_key of service account ${clientEmail} is not a PEM private key`);
  }
  const tokenUri = str(j.token_uri) ?? GOOGLE_TOKEN_URI;
  if (!/^https?:\/\/[^/?#]+/.test(tokenUri)) throw new CredentialError(`the token_uri of service account ${clientEmail} is not an http(s) URL`);
  return { clientEmail, key, keyId: str(j.private_key_id), tokenUri };
}

const b64url = (v: string | Buffer) => Buffer.from(v).toString('base64url');

/** The signed assertion for `sa`, issued at `nowS` (seconds). */
export function signedAssertion(sa: ServiceAccount, nowS: number, scope = CLOUD_PLATFORM_SCOPE): string {
  const header: Record<string, string> = { alg: 'RS256', typ: 'JWT' };
  if (sa.keyId) header.kid = sa.keyId;
  const claims = { iss: sa.clientEmail, scope, aud: sa.tokenUri, iat: nowS, exp: nowS + 3600 };
  const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(sa.key);
  return `${unsigned}.${b64url(signature)}`;
}

/** A token endpoint's answer, read within MAX_TOKEN_ANSWER_BYTES. */
async function readToken(what: string, res: Awaited<ReturnType<typeof request>>, nowMs: number): Promise<AccessToken> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body) {
    size += (c as Buffer).length;
    if (size > MAX_TOKEN_ANSWER_BYTES) {
      res.body.destroy();
      throw new CredentialError(`${what} answered more than ${MAX_TOKEN_ANSWER_BYTES} bytes`);
    }
    chunks.push(c as Buffer);
  }
  const j = parseObject(Buffer.concat(chunks).toString('utf8'));
  if (res.statusCode < 200 || res.statusCode >= 300) {
    const why = [str(j?.error), str(j?.error_description)].filter(Boolean).join(': ').slice(0, 200);
    throw new CredentialError(`${what} answered ${res.statusCode}${why ? ` (${why})` : ''}`);
  }
  const token = str(j?.access_token);
  if (!j || !token || !TOKEN_TEXT.test(token)) throw new CredentialError(`${what} answered without a usable access_token`);
  const life = Math.min(MAX_LIFE_S, Math.max(0, num(j.expires_in) ?? 3600));
  return { token, expiresAt: nowMs + life * 1000 };
}

async function call(what: string, url: string, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }, signal: AbortSignal, clock: () => number): Promise<AccessToken> {
  const started = clock();
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, { ...init, signal });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new CredentialError(signal.aborted ? `${what} did not answer in time` : `could not reach ${what}${code ? ` (${code})` : ''}`);
  }
  try {
    return await readToken(what, res, started);
  } catch (err) {
    if (signal.aborted && !(err instanceof CredentialError)) throw new CredentialError(`${what} did not answer in time`);
    throw err instanceof CredentialError ? err : new CredentialError(`${what} broke off its answer`);
  }
}

/** Tokens for a service account: a fresh assertion per refresh. */
export function serviceAccountTokens(sa: ServiceAccount, clock: () => number = Date.now): TokenFetch {
  return (signal) => {
    const body = new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion: signedAssertion(sa, Math.floor(clock() / 1000)) }).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    return call(`the token endpoint of service account ${sa.clientEmail}`, sa.tokenUri, { method: 'POST', headers, body }, signal, clock);
  };
}

/** Tokens of the default service account of the machine, from its metadata server. */
export function metadataTokens(base: string = METADATA_URL, clock: () => number = Date.now): TokenFetch {
  const url = `${base.replace(/\/+$/, '')}${METADATA_TOKEN_PATH}`;
  return (signal) => call('the metadata server', url, { method: 'GET', headers: { 'metadata-flavor': 'Google' } }, signal, clock);
}
