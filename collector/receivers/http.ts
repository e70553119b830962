/**
 * OTLP/HTTP `POST /v1/traces` as an encapsulated Fastify plugin: it takes the raw body stream
 * for every content type (so the limit, gzip and the 415 answer are its own) and leaves the
 * app's JSON parsing untouched for the other routes on the same port.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { CollectorError, collectorErrors } from '../errors.js';
import { exportResponseJson, exportResponseProto, GRPC, statusJson, statusProto } from '../otlp/response.js';
import { countRequest, type CollectorMetrics } from '../telemetry/metrics.js';
import { bearerOk, WWW_AUTHENTICATE } from './auth.js';
import { readBody } from './body.js';
import type { ExportHandler, OtlpEncoding } from './otlp.js';

export interface HttpReceiverOptions {
  maxRequestBytes: number;
  authToken?: string;
  handler: ExportHandler;
  metrics: CollectorMetrics;
}

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  const base = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (base === PROTOBUF || base === 'application/protobuf') return 'protobuf';
  if (base === JSON_TYPE) return 'json';
  return undefined;
}

export const otlpHttpReceiver: FastifyPluginAsync<HttpReceiverOptions> = async (app, opts) => {
  // Every content type reaches the route as the raw stream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req: FastifyRequest, payload: unknown, done: (err: Error | null, body?: unknown) => void) => done(null, payload));

  // High-rate route: its requests are not logged one by one (errors still are).
  app.post('/v1/traces', { logLevel: 'warn' }, async (req, reply) => {
    const encoding = encodingOf(req.headers['content-type']);
    try {
      if (!bearerOk(opts.authToken, req.headers.authorization)) throw collectorErrors.unauthenticated();
      if (!encoding) throw collectorErrors.unsupportedType((req.headers['content-type'] ?? '').split(';')[0].trim() || '(none)');
      const stream = req.body as Readable | undefined;
      const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
      const body = stream && typeof stream.pipe === 'function' ? await readBody(stream, req.headers['content-encoding'], opts.maxRequestBytes, declared) : Buffer.alloc(0);
      const { rejected, message } = await opts.handler(body, encoding);
      countRequest(opts.metrics, 'http', rejected ? 'partial' : 'ok');
      return sendOk(reply, encoding, rejected, message);
    } catch (err) {
      if (!(err instanceof CollectorError)) {
        req.log.error({ err }, 'OTLP/HTTP export failed');
        countRequest(opts.metrics, 'http', 'internal');
        return sendStatus(reply, 500, encoding, GRPC.INTERNAL, 'internal error in the collector');
      }
      countRequest(opts.metrics, 'http', err.code);
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
      if (err.code === 'payload_too_large') reply.header('connection', 'close');
      if (err.code === 'unauthenticated') reply.header('www-authenticate', WWW_AUTHENTICATE);
      return sendStatus(reply, err.httpStatus, encoding, err.grpcCode, err.message, err.retryAfterSeconds);
    }
  });
};

function sendOk(reply: FastifyReply, encoding: OtlpEncoding, rejected: number, message: string) {
  if (encoding === 'protobuf') return reply.code(200).type(PROTOBUF).send(exportResponseProto(rejected, message));
  return reply.code(200).type(JSON_TYPE).send(exportResponseJson(rejected, message));
}

/** Errors carry a google.rpc.Status in the request's encoding (JSON when it had none we know). */
function sendStatus(reply: FastifyReply, http: number, encoding: OtlpEncoding | undefined, code: number, message: string, retryAfter?: number) {
  if (encoding === 'protobuf')
    return reply
      .code(http)
      .type(PROTOBUF)
      .send(statusProto(code, message, retryAfter));
  return reply
    .code(http)
    .type(JSON_TYPE)
    .send(statusJson(code, message, retryAfter));
}
