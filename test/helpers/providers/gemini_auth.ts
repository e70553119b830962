/**
 * Loopback stand-ins for where Vertex AI tokens come from: Google's OAuth2 token endpoint (a
 * service account's signed JWT exchanged for an access token) and the GCE metadata server.
 *
 *   const auth = await startGoogleAuthStub();
 *   const sa = auth.serviceAccount();       // a key file's JSON text, token_uri → this stub
 *   auth.tokens.has(t)                      // the tokens it issued (hand to startGeminiStub's acceptToken)
 *   auth.set({ expiresIn: 120 }) / auth.hangNext(1) / auth.failNext(1, 500) / auth.set({ respond })
 *
 * POST /token checks the request as Google does: form-encoded `grant_type` jwt-bearer and an
 * `assertion` that is an RS256 JWT signed by the account's key, `iss` the account, `aud` the
 * token endpoint, scope cloud-platform, `exp` - `iat` at most an hour (else 400 invalid_grant).
 * GET /computeMetadata/v1/instance/service-accounts/default/token needs `Metadata-Flavor: Google`
 * (else 403). Both answer `{access_token, expires_in, token_type: "Bearer"}`.
 */
import { generateKeyPairSync, verify } from 'node:crypto';
import { type Exchange, type Route, type StubServer, startStubServer } from './stub.js';

export interface GoogleAuthStubOptions {
  /** Lifetime of issued tokens, seconds (default 3600). */
  expiresIn?: number;
  /** Answers every request itself (hostile token endpoints). */
  respond?: Route;
}

export interface GoogleAuthStub extends StubServer {
  /** The token endpoint: `http://127.0.0.1:PORT/token`. */
  tokenUri: string;
  /** The metadata server's base URL: `http://127.0.0.1:PORT`. */
  metadataUrl: string;
  /** Tokens issued so far (service account and metadata alike). */
  tokens: Set<string>;
  /** A service account key file's JSON text whose token_uri is this stub. */
  serviceAccount(email?: string): string;
  set(opts: Partial<GoogleAuthStubOptions>): void;
}

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const oauthError = (ex: Exchange, status: number, error: string, description: string) => ex.json(status, { error, error_description: description });

function decodeJwt(jwt: string): { header: any; claims: any; signedPart: string; signature: Buffer } | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0], 'base64url').toString()),
      claims: JSON.parse(Buffer.from(parts[1], 'base64url').toString()),
      signedPart: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    return undefined;
  }
}

export async function startGoogleAuthStub(initial: GoogleAuthStubOptions = {}): Promise<GoogleAuthStub> {
  let opts: GoogleAuthStubOptions = { ...initial };
  const tokens = new Set<string>();
  const accounts = new Set<string>();
  let tokenUri = '';
  let seq = 0;

  const issue = (ex: Exchange) => {
    const token = `ya29.stub-${++seq}-${Date.now().toString(36)}`;
    tokens.add(token);
    return ex.json(200, { access_token: token, expires_in: opts.expiresIn ?? 3600, token_type: 'Bearer' });
  };

  function exchange(ex: Exchange): Promise<void> {
    const { rec } = ex;
    if (!String(rec.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return oauthError(ex, 400, 'invalid_request', 'Bad Request');
    const form = new URLSearchParams(rec.rawBody);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return oauthError(ex, 400, 'unsupported_grant_type', 'Invalid grant_type');
    const jwt = decodeJwt(form.get('assertion') ?? '');
    if (jwt?.header.alg !== 'RS256') return oauthError(ex, 400, 'invalid_grant', 'Invalid JWT: bad header');
    if (!verify('RSA-SHA256', Buffer.from(jwt.signedPart), publicKey, jwt.signature)) return oauthError(ex, 400, 'invalid_grant', 'Invalid JWT Signature.');
    const c = jwt.claims;
    if (!accounts.has(c.iss)) return oauthError(ex, 400, 'invalid_grant', 'Invalid grant: account not found');
    if (c.aud !== tokenUri) return oauthError(ex, 400, 'invalid_grant', 'Invalid JWT: aud');
    if (c.scope !== CLOUD_PLATFORM) return oauthError(ex, 400, 'invalid_scope', 'Invalid OAuth scope');
    const now = Date.now() / 1000;
    if (!(c.exp - c.iat <= 3600 && c.exp > now && c.iat <= now + 60))
      return oauthError(ex, 400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    return issue(ex);
  }

  async function route(ex: Exchange): Promise<void> {
    if (opts.respond) return opts.respond(ex);
    const { rec } = ex;
    if (rec.method === 'POST' && rec.path === '/token') return exchange(ex);
    if (rec.method === 'GET' && rec.path === '/computeMetadata/v1/instance/service-accounts/default/token') {
      if (rec.headers['metadata-flavor'] !== 'Google') return ex.json(403, { error: 'Missing Metadata-Flavor:Google header.' });
      return issue(ex);
    }
    return oauthError(ex, 404, 'not_found', `${rec.method} ${rec.path}`);
  }

  const server = await startStubServer(route, (spec) => ({ error: 'internal_failure', error_description: spec.message ?? `Error ${spec.status}` }));
  tokenUri = `${server.origin}/token`;
  return {
    ...server,
    tokenUri,
    metadataUrl: server.origin,
    tokens,
    serviceAccount(email = 'tracegate-test@example-project.iam.gserviceaccount.com') {
      accounts.add(email);
      return JSON.stringify({
        type: 'service_account',
        project_id: 'example-project',
        private_key_id: 'key-1',
        private_key: PRIVATE_PEM,
        client_email: email,
        client_id: '1234567890',
        token_uri: tokenUri,
      });
    },
    set(o) {
      opts = { ...opts, ...o };
    },
  };
}
