/** `/healthz` (the process answers), `/readyz` (it takes spans now) and `/metrics` (Prometheus text). */
import type { FastifyInstance } from 'fastify';

export interface HealthSource {
  /** Why the collector does not take spans now, or undefined when it does. */
  notReady(): string | undefined;
  /** Whether the last insert into ClickHouse worked (spans are spooled meanwhile). */
  clickhouseOk(): boolean;
  metricsText(): string;
}

export function registerHealthRoutes(app: FastifyInstance, src: HealthSource): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const why = src.notReady();
    const clickhouse = src.clickhouseOk() ? 'ok' : 'failing (spans are spooled)';
    if (why) return reply.code(503).send({ status: 'not ready', reason: why, clickhouse });
    return { status: 'ready', clickhouse };
  });
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(src.metricsText()));
}
