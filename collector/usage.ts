/**
 * `GET /v1/usage`: the query behind `tracegate usage`, over HTTP. Parameters (window, group-by,
 * filters, limit, format) are validated by `common/usage.ts` and bound as query parameters;
 * the answer is JSON (`{ window, by, rows }`) or CSV with a header line.
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../common/store.js';
import { parseUsageParams, queryUsage, resolveWindow, usageColumns, usageCsv, UsageParamsError, type UsageParams } from '../common/usage.js';
import { requireBearer } from './receivers/auth.js';

export interface UsageRouteDeps {
  store: Pick<Store, 'client' | 'database'>;
  /** When set, the route wants `authorization: Bearer <token>` like the receivers. */
  authToken?: string;
  now?: () => number;
}

export function registerUsageRoute(app: FastifyInstance, deps: UsageRouteDeps): void {
  app.get('/v1/usage', { onRequest: requireBearer(deps.authToken) }, async (req, reply) => {
    const now = new Date(deps.now?.() ?? Date.now());
    let params: UsageParams;
    let window: { start: Date; end: Date };
    try {
      params = parseUsageParams(req.query);
      window = resolveWindow(params, now);
    } catch (err) {
      if (!(err instanceof UsageParamsError)) throw err;
      return reply.code(400).send({ error: { message: `invalid usage parameters: ${err.problems.join('; ')}`, type: 'invalid_request_error', code: 400, problems: err.problems } });
    }
    const rows = await queryUsage(deps.store.client, deps.store.database, params, now);
    if (params.format === 'csv') return reply.type('text/csv; charset=utf-8').send(usageCsv(rows, usageColumns(params)));
    return { window: { start: window.start.toISOString(), end: window.end.toISOString() }, by: params.by, rows };
  });
}
