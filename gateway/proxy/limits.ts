/**
 * How much of an upstream answer the gateway takes (ARCHITECTURE.md, trust boundaries: upstreams
 * are untrusted input too). Past a limit the answer is refused with a 502 and its connection
 * closed; nothing past the limit is buffered or drained.
 */
import { SSE_LIMITS, SseLimitError, type SseLimits } from '../sse.js';
import { GatewayError, gatewayClientError } from '../errors.js';
import type { ClientError } from '../providers/types.js';
import { UpstreamBodyTooLarge } from '../upstream.js';

export interface AnswerLimits extends SseLimits {
  /** A whole (non-streamed) 2xx answer. */
  maxBodyBytes: number;
  /** An error answer: what is kept for the client's message; the rest is not read. */
  maxErrorBodyBytes: number;
}

/**
 * 64 MiB for a whole answer: the largest real ones are embeddings of full batches (2,048 inputs
 * of 3,072 dimensions are about 34 MB as the SDKs' default base64, 95–140 MB as float JSON, so
 * the float form of the very largest batches is refused and should use base64); a chat completion
 * with every option on stays in single-digit MB. The buffered text is parsed and re-serialized, so
 * a call at the limit costs about three times it in memory.
 */
export const ANSWER_LIMITS: Readonly<AnswerLimits> = Object.freeze({
  ...SSE_LIMITS,
  maxBodyBytes: 64 * 1024 * 1024,
  maxErrorBodyBytes: 64 * 1024,
});

/**
 * A request or answer text from this length on gets event-loop turns of its own for the steps
 * that each walk all of it (parsing the answer, sending the request or the answer, the span and
 * the token estimate): each such step over a multi-MB body takes 10-40 ms on a loaded machine,
 * and run back to back in one turn they held the event loop 60-250 ms.
 */
export const OWN_TURN_CHARS = 256 * 1024;

/** The client's answer for an upstream answer past a limit; undefined for any other error. */
export function limitError(err: unknown, host: string): ClientError | undefined {
  if (err instanceof UpstreamBodyTooLarge) return gatewayClientError(new GatewayError('upstream_response_too_large', `the answer of ${host} is larger than the gateway accepts (${err.limit} bytes)`));
  if (err instanceof SseLimitError)
    return gatewayClientError(new GatewayError('upstream_event_too_large', `the stream of ${host} sent an event ${err.what} larger than the gateway accepts (${err.limit} bytes)`));
  return undefined;
}
