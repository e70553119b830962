/**
 * The answers Fastify and Node's HTTP parser would otherwise give in their own shapes, in the
 * OpenAI error envelope instead: Fastify's errors (body limit, media type, bad URL encoding, body
 * length), unknown routes and methods, and what Node's parser refuses before Fastify sees a request
 * (headers past the limit: 431; malformed HTTP: 400; a request that never finished arriving: 408).
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, GatewayError } from '../errors.js';

/** Any error a route or Fastify raised, as a catalogued GatewayError. */
export function fastifyErrorToGateway(err: FastifyError): GatewayError {
  if (err instanceof GatewayError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('body_too_large', 'the request body is larger than the gateway accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new GatewayError('unsupported_media_type', 'send the request body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new GatewayError('invalid_json', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', 'the request body is not as long as its Content-Length says');
    case 'FST_ERR_BAD_URL':
      return new GatewayError('invalid_request', 'the request URL is not valid (bad percent-encoding)');
    default:
      return err.statusCode && err.statusCode >= 400 && err.statusCode < 500
        ? new GatewayError('invalid_request', 'the request could not be read')
        : new GatewayError('internal_error', 'the gateway failed to handle this request');
  }
}

/** The path of a request without its query, for messages (cut: a URL can be long). */
export function pathOf(url: string): string {
  const path = url.split('?', 1)[0];
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/** Unknown route: 405 with `Allow` when the path exists for other methods, else 404. */
export function notFound(app: FastifyInstance) {
  const methods = ['GET', 'POST'] as const;
  return (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?', 1)[0];
    const allowed = methods.filter((m) => m !== req.method && app.hasRoute({ method: m, url: path }));
    if (allowed.length > 0) {
      const e = new GatewayError('method_not_allowed', `${pathOf(req.url)} does not take ${req.method}; use ${allowed.join(' or ')}`);
      void reply.code(e.status).header('allow', allowed.join(', ')).send(errorBody(e, 'openai'));
      return;
    }
    const e = new GatewayError('not_found', `no endpoint ${req.method} ${pathOf(req.url)}; see GET /v1/models and POST /v1/chat/completions`);
    void reply.code(e.status).send(errorBody(e, 'openai'));
  };
}

/** What Node's parser reported, as a catalogued error. */
function clientErrorOf(err: NodeJS.ErrnoException): GatewayError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('headers_too_large', 'the request headers are larger than the gateway accepts');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('request_timeout', 'the request did not arrive in time (is the body shorter than its Content-Length?)');
    default:
      return new GatewayError('invalid_request', 'the request is not valid HTTP');
  }
}

/** The raw HTTP/1.1 answer for an error written straight to a socket. */
export function rawErrorResponse(e: GatewayError): string {
  const body = JSON.stringify(errorBody(e, 'openai'));
  return `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Fastify's `clientErrorHandler`: Node's parser refused the request before any route saw it.
 * `onError` counts it; nothing here may throw (it runs from a socket event).
 */
export function clientErrorHandler(onError: (e: GatewayError) => void) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    // A reset connection has nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const e = clientErrorOf(err);
    try {
      onError(e);
    } catch {
      // counting is best effort
    }
    // A response already started on this socket cannot be followed by another.
    // (Node's own handler checks the same private field.)
    const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !started) socket.end(rawErrorResponse(e));
    else socket.destroy();
  };
}
