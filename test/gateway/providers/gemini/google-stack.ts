/**
 * The fixture the Gemini and Vertex tests share: a Google token endpoint stand-in, a Gemini API
 * stand-in (backend `gemini`, key AIza-upstream), a Vertex AI stand-in accepting the tokens the
 * token endpoint issued (backend `vertex`, project my-proj, a service account), and a gateway with
 * those two backends and the caller's Route (and other) documents. Started before a file's tests,
 * closed after; the stand-ins' requests are forgotten before each test.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { GatewayDeps } from '../../../../gateway/server.js';
import { type GeminiStub, type GeminiStubOptions, startGeminiStub } from '../../../helpers/providers/gemini.js';
import { type GoogleAuthStub, startGoogleAuthStub } from '../../../helpers/providers/gemini_auth.js';
import { backendDoc, config, docs, startGateway, type TestGateway } from '../../helpers.js';

export interface GoogleStack {
  auth: GoogleAuthStub;
  gem: GeminiStub;
  vtx: GeminiStub;
  g: TestGateway;
}

export const GEMINI_UPSTREAM_KEY = 'AIza-upstream';

export function useGoogleStack(opts: { location: string; documents: string[]; gemini?: GeminiStubOptions; deps?: GatewayDeps }): GoogleStack {
  const s = {} as GoogleStack;
  beforeAll(async () => {
    s.auth = await startGoogleAuthStub();
    s.gem = await startGeminiStub({ apiKey: GEMINI_UPSTREAM_KEY, ...opts.gemini });
    s.vtx = await startGeminiStub({ acceptToken: (t) => s.auth.tokens.has(t) });
    const cfg = config(
      docs(
        backendDoc('gemini', 'gemini', s.gem.url, '  apiKey: { env: GEMINI_KEY }'),
        backendDoc('vertex', 'vertex', s.vtx.url, `  project: my-proj\n  location: ${opts.location}\n  serviceAccount: { env: VERTEX_SA }`),
        ...opts.documents,
      ),
      { GEMINI_KEY: GEMINI_UPSTREAM_KEY, VERTEX_SA: s.auth.serviceAccount() },
    );
    s.g = await startGateway(cfg, opts.deps);
  });
  afterAll(async () => {
    await s.g?.close();
    for (const stub of [s.gem, s.vtx, s.auth]) await stub?.close();
  });
  beforeEach(() => {
    s.gem.reset();
    s.vtx.reset();
  });
  return s;
}
