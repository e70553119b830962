/**
 * How a request to Bedrock carries its credential, in order of precedence:
 *
 * 1. a Bedrock API key (the Backend's `apiKey`): `Authorization: Bearer <key>`, nothing signed;
 * 2. static AWS keys (`accessKeyId` + `secretAccessKey`, optional `sessionToken`, each an
 *    `{ env }` / `{ file }` reference): a SigV4 signature (`@smithy/signature-v4`, service
 *    `bedrock`) over the exact method, URL, headers and body bytes sent;
 * 3. neither: the standard AWS credential chain (`@aws-sdk/credential-provider-node`'s
 *    `defaultProvider`: environment, SSO, shared config and credentials files for `profile`,
 *    web identity, ECS container and EC2 instance metadata), memoized by the chain itself and
 *    refreshed five minutes before the credentials expire; then signed as in 2.
 *
 * The region signed for is the backend's `region`, else the one in an AWS runtime host name.
 * Headers that carry secrets: `authorization` and `x-amz-security-token` (never logged or copied
 * into spans). No message here ever holds a key: a failure names what was missing.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AuthHeaders, AuthRequest, BackendDescriptor, BackendSecret } from '../types.js';
import { signingRegion } from './options.js';

export const BEDROCK_SECRET_HEADERS: readonly string[] = ['authorization', 'x-amz-security-token'];
export const SIGNING_SERVICE = 'bedrock';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type CredentialSource = () => Promise<AwsCredentials>;

/**
 * Chains by profile ('' for the default one). Each memoizes its credentials until they expire, so
 * one per profile is kept for the process: a handful at most (one per profile named in config).
 */
const chains = new Map<string, CredentialSource>();
const MAX_CHAINS = 64;

export function credentialChain(profile: string | undefined): CredentialSource {
  const key = profile ?? '';
  let chain = chains.get(key);
  if (!chain) {
    if (chains.size >= MAX_CHAINS) chains.delete(chains.keys().next().value as string);
    chain = defaultProvider(profile ? { profile } : {}) as CredentialSource;
    chains.set(key, chain);
  }
  return chain;
}

/** The credentials a backend signs with: its static keys, else the chain. */
export function credentialsOf(backend: BackendDescriptor, secret: BackendSecret): AwsCredentials | CredentialSource {
  const { accessKeyId, secretAccessKey, sessionToken } = secret.fields;
  if (accessKeyId && secretAccessKey) return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
  const profile = backend.options?.profile;
  return credentialChain(typeof profile === 'string' ? profile : undefined);
}

/** Signs `req` for `region`; returns only the headers the signature adds (authorization, x-amz-*). */
export async function sigv4Headers(req: AuthRequest, region: string, credentials: AwsCredentials | CredentialSource, signingDate?: Date): Promise<AuthHeaders> {
  const url = new URL(req.url);
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signer = new SignatureV4({ credentials, region, service: SIGNING_SERVICE, sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers: { ...req.headers, host: url.host },
      body: req.body,
    },
    { signingDate },
  );
  const out: AuthHeaders = {};
  for (const [name, value] of Object.entries(signed.headers)) {
    const lower = name.toLowerCase();
    if (lower !== 'host' && !(lower in req.headers)) out[lower] = value;
  }
  return out;
}

/** The provider's `authorize`: a bearer API key as it is, else a signature (awaited: credentials may be fetched). */
export function authorizeBedrock(req: AuthRequest, backend: BackendDescriptor, secret: BackendSecret): AuthHeaders | Promise<AuthHeaders> {
  if (secret.key) return { authorization: `Bearer ${secret.key}` };
  const region = signingRegion(backend, new URL(req.url).hostname);
  return sigv4Headers(req, region, credentialsOf(backend, secret)).catch((err: unknown) => {
    // The chain's own messages name files and variables, never values; keep only the first line.
    const why = String((err as Error)?.message ?? err)
      .split('\n')[0]
      .slice(0, 200);
    throw new Error(`no AWS credentials for the bedrock backend: ${why}`);
  });
}
