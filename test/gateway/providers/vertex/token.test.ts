/**
 * Vertex AI's access tokens: the cache (kept, refreshed ahead of expiry, one refresh shared by
 * concurrent callers, failures not kept, a caller's own abort), and the two sources against
 * loopback stand-ins of Google's token endpoint and metadata server, hostile ones included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialError, MAX_TOKEN_ANSWER_BYTES, metadataTokens, parseServiceAccount, serviceAccountTokens, signedAssertion } from '../../../../gateway/providers/vertex/credentials.js';
import { type AccessToken, TokenCache } from '../../../../gateway/providers/vertex/token-cache.js';
import { startGoogleAuthStub, type GoogleAuthStub } from '../../../helpers/providers/gemini_auth.js';

const MIN = 60_000;

/** A fetch under the test's control: each call waits for `release`. */
function manualFetch() {
  const calls: { resolve: (t: AccessToken) => void; reject: (e: Error) => void; signal: AbortSignal }[] = [];
  const fetch = (signal: AbortSignal) => new Promise<AccessToken>((resolve, reject) => calls.push({ resolve, reject, signal }));
  return { fetch, calls };
}

const flush = () => new Promise((r) => setImmediate(r));

/** A cache on `clock` that already holds `first` (fetched through a manual fetch). */
async function primed(clock: () => number, first: AccessToken) {
  const m = manualFetch();
  const cache = new TokenCache(m.fetch, { clock });
  const got = cache.get();
  await flush();
  m.calls[0].resolve(first);
  expect(await got).toBe(first.token);
  return { m, cache };
}

describe('TokenCache', () => {
  it('keeps a token until 5 minutes before expiry, then refreshes ahead while serving the old one', async () => {
    let now = 0;
    const { m, cache } = await primed(() => now, { token: 't1', expiresAt: 60 * MIN });
    now = 54 * MIN;
    expect(cache.peek()).toBe('t1');
    expect(cache.refreshes).toBe(1);
    now = 56 * MIN; // inside the 5-minute window: old token served, one refresh started
    expect(cache.peek()).toBe('t1');
    expect(await cache.get()).toBe('t1');
    expect(cache.refreshes).toBe(2);
    m.calls[1].resolve({ token: 't2', expiresAt: 116 * MIN });
    await flush();
    expect(cache.peek()).toBe('t2');
  });

  it('waits for a new token when the kept one is about to expire', async () => {
    let now = 0;
    const { m, cache } = await primed(() => now, { token: 't1', expiresAt: 60 * MIN });
    now = 60 * MIN - 5_000;
    expect(cache.peek()).toBeUndefined();
    const next = cache.get();
    await flush();
    m.calls[1].resolve({ token: 't2', expiresAt: 120 * MIN });
    expect(await next).toBe('t2');
  });

  it('a short-lived token is refreshed at half its life', async () => {
    let now = 0;
    const { cache } = await primed(() => now, { token: 't1', expiresAt: 2 * MIN });
    now = 59_000;
    expect(cache.peek()).toBe('t1');
    expect(cache.refreshes).toBe(1);
    now = 61_000;
    expect(cache.peek()).toBe('t1');
    expect(cache.refreshes).toBe(2);
  });

  it('concurrent callers share one refresh; a failure reaches all of them, is not kept, and the next call retries', async () => {
    const m = manualFetch();
    const cache = new TokenCache(m.fetch);
    const waiting = Array.from({ length: 20 }, () => cache.get());
    await flush();
    expect(m.calls).toHaveLength(1);
    m.calls[0].reject(new CredentialError('the token endpoint answered 500'));
    const results = await Promise.allSettled(waiting);
    expect(results.every((r) => r.status === 'rejected' && /answered 500/.test(String(r.reason)))).toBe(true);
    const again = cache.get();
    await flush();
    expect(m.calls).toHaveLength(2);
    m.calls[1].resolve({ token: 't2', expiresAt: Date.now() + 60 * MIN });
    expect(await again).toBe('t2');
  });

  it("a caller's abort ends only its own wait; the refresh goes on for the others", async () => {
    const m = manualFetch();
    const cache = new TokenCache(m.fetch);
    const ac = new AbortController();
    const gone = cache.get(ac.signal);
    const stays = cache.get();
    await flush();
    ac.abort(new Error('client left'));
    await expect(gone).rejects.toThrow('client left');
    expect(m.calls[0].signal.aborted).toBe(false);
    m.calls[0].resolve({ token: 't1', expiresAt: Date.now() + 60 * MIN });
    expect(await stays).toBe('t1');
  });

  it('a refresh that takes too long is aborted by the cache', async () => {
    const m = manualFetch();
    const cache = new TokenCache(m.fetch, { fetchTimeoutMs: 50 });
    const got = cache.get();
    await flush();
    const aborted = new Promise<void>((r) => m.calls[0].signal.addEventListener('abort', () => r()));
    await aborted;
    m.calls[0].reject(m.calls[0].signal.reason as Error);
    await expect(got).rejects.toThrow('no token within 50 ms');
  });
});

describe('token sources on loopback', () => {
  let auth: GoogleAuthStub;
  beforeAll(async () => {
    auth = await startGoogleAuthStub();
  });
  afterAll(() => auth.close());

  const signal = () => AbortSignal.timeout(2_000);

  it('a service account: a signed JWT exchanged for a token the endpoint issued', async () => {
    auth.reset();
    const sa = parseServiceAccount(auth.serviceAccount());
    const t = await serviceAccountTokens(sa)(signal());
    expect(auth.tokens.has(t.token)).toBe(true);
    expect(t.expiresAt - Date.now()).toBeGreaterThan(59 * MIN);
    const rec = auth.requests[0];
    const form = new URLSearchParams(rec.rawBody);
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [h, c] = (form.get('assertion') ?? '')
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString() || '{}'));
    expect(h).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'key-1' });
    expect(c).toMatchObject({ iss: 'tracegate-test@example-project.iam.gserviceaccount.com', aud: auth.tokenUri, scope: 'https://www.googleapis.com/auth/cloud-platform' });
    expect(c.exp - c.iat).toBe(3600);
  });

  it('the metadata server: GET with Metadata-Flavor: Google', async () => {
    auth.reset();
    const t = await metadataTokens(auth.metadataUrl)(signal());
    expect(auth.tokens.has(t.token)).toBe(true);
    expect(auth.requests[0].headers['metadata-flavor']).toBe('Google');
  });

  it('a refused grant is a clear error naming the account, never the key or the assertion', async () => {
    auth.reset();
    const text = auth.serviceAccount();
    const sa = parseServiceAccount(text.replace('tracegate-test@', 'someone-else@'));
    const err = await serviceAccountTokens(sa)(signal()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CredentialError);
    expect((err as Error).message).toBe('the token endpoint of service account someone-else@example-project.iam.gserviceaccount.com answered 400 (invalid_grant: Invalid grant: account not found)');
    const assertion = new URLSearchParams(auth.requests[0].rawBody).get('assertion') as string;
    expect((err as Error).message).not.toContain(assertion.slice(0, 20));
    expect((err as Error).message).not.toContain('PRIVATE KEY');
  });

  it('service account key files that cannot be used', () => {
    const good = JSON.parse(auth.serviceAccount());
    const cases: [string, string][] = [
      ['not json', 'the service account key is not JSON (expected the key file Google issues)'],
      [JSON.stringify({ ...good, private_key: undefined }), 'the service account key has no client_email or private_key'],
      [JSON.stringify({ ...good, private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), `the private_key of service account ${good.client_email} is not a PEM private key`],
      [JSON.stringify({ ...good, token_uri: 'file:///etc/passwd' }), `the token_uri of service account ${good.client_email} is not an http(s) URL`],
    ];
    for (const [text, message] of cases) expect(() => parseServiceAccount(text)).toThrow(message);
  });

  it('the assertion is a JWT the account key verifies (checked by the stand-in), one hour long', () => {
    const sa = parseServiceAccount(auth.serviceAccount());
    const jwt = signedAssertion(sa, 1_700_000_000);
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    expect(claims).toEqual({ iss: sa.clientEmail, scope: 'https://www.googleapis.com/auth/cloud-platform', aud: auth.tokenUri, iat: 1_700_000_000, exp: 1_700_003_600 });
  });

  describe('hostile token endpoints', () => {
    const sa = () => parseServiceAccount(auth.serviceAccount());
    const run = async (ms = 5_000) => serviceAccountTokens(sa())(AbortSignal.timeout(ms)).catch((e: Error) => e);

    it('one that hangs: cut by the time limit with a clear error', async () => {
      auth.reset();
      auth.hangNext(1);
      const started = Date.now();
      const err = await run(300);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect((err as Error).message).toMatch(/did not answer in time/);
    });

    it('one that answers 10 MB: refused past 64 KiB, not buffered', async () => {
      auth.reset();
      auth.set({
        respond: async (ex) => {
          await ex.json(200, { access_token: 'x'.repeat(10 * 1024 * 1024), expires_in: 3600 });
        },
      });
      try {
        const err = await run();
        expect((err as Error).message).toBe(`the token endpoint of service account tracegate-test@example-project.iam.gserviceaccount.com answered more than ${MAX_TOKEN_ANSWER_BYTES} bytes`);
      } finally {
        auth.set({ respond: undefined });
      }
    });

    it('tokens that could not go into a header, answers that are not JSON', async () => {
      for (const body of [{ access_token: 'ya29.a\r\nx-injected: 1', expires_in: 3600 }, { expires_in: 3600 }, 'not json']) {
        auth.reset();
        auth.set({
          respond: async (ex) => {
            await ex.json(200, body);
          },
        });
        const err = await run();
        expect((err as Error).message).toMatch(/answered without a usable access_token$/);
      }
      auth.set({ respond: undefined });
    });

    it('nobody listening: could not reach', async () => {
      const closed = await startGoogleAuthStub();
      const text = closed.serviceAccount();
      await closed.close();
      const err = await serviceAccountTokens(parseServiceAccount(text))(AbortSignal.timeout(1_000)).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/^could not reach the token endpoint of service account .* \(ECONNREFUSED\)$/);
    });
  });
});
