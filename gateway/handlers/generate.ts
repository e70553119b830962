/**
 * Google's model methods on the gateway, for Gemini SDK clients:
 * `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent` (and `/v1/…`).
 * The model and whether it streams are in the path, not the body: they are put into the body the
 * call sees as `model` and `stream` (what routing, keys, limits and telemetry read), and the
 * passthrough translator never sends them (gateway/providers/gemini/generate/gemini_gemini.ts).
 * Any other method is a 404 in Google's envelope.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { callHandler, type CallDeps } from './call.js';

const METHODS: Readonly<Record<string, boolean>> = { generateContent: false, streamGenerateContent: true };

/** `gemini-2.5-flash:generateContent` → the model and whether it streams. */
export function parseModelMethod(target: string): { model: string; stream: boolean } {
  const at = target.lastIndexOf(':');
  const method = at < 0 ? '' : target.slice(at + 1);
  const stream = METHODS[method];
  if (at <= 0 || stream === undefined) {
    throw new GatewayError('not_found', `this gateway serves generateContent and streamGenerateContent of a model, not "${target.slice(0, 100)}"`);
  }
  return { model: target.slice(0, at), stream };
}

export function generateHandler(deps: CallDeps) {
  const handle = callHandler('generate', deps);
  return function generate(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { model, stream } = parseModelMethod((req.params as { target: string }).target);
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new GatewayError('invalid_json', 'the request body must be a JSON object');
    req.body = { ...body, model, stream };
    return handle(req, reply);
  };
}
