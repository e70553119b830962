/**
 * The collector's error catalogue: each refusal has a stable code, an HTTP status and a gRPC
 * status, so both receivers answer the same thing the OTLP specification's way. Messages say
 * what was wrong and where; internals are never put in them.
 */
import { GRPC } from './otlp/response.js';

export type CollectorErrorCode = 'invalid_request' | 'unauthenticated' | 'payload_too_large' | 'unsupported_media_type' | 'spool_full' | 'busy' | 'unavailable';

const STATUS: Record<CollectorErrorCode, { http: number; grpc: number }> = {
  invalid_request: { http: 400, grpc: GRPC.INVALID_ARGUMENT },
  unauthenticated: { http: 401, grpc: GRPC.UNAUTHENTICATED },
  payload_too_large: { http: 413, grpc: GRPC.RESOURCE_EXHAUSTED },
  unsupported_media_type: { http: 415, grpc: GRPC.INVALID_ARGUMENT },
  // Retryable: an OTLP client backs off and sends again instead of dropping.
  spool_full: { http: 429, grpc: GRPC.RESOURCE_EXHAUSTED },
  busy: { http: 429, grpc: GRPC.RESOURCE_EXHAUSTED },
  unavailable: { http: 503, grpc: GRPC.UNAVAILABLE },
};

export class CollectorError extends Error {
  readonly httpStatus: number;
  readonly grpcCode: number;
  constructor(
    readonly code: CollectorErrorCode,
    message: string,
    /** Set on retryable refusals: Retry-After / RetryInfo. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.httpStatus = STATUS[code].http;
    this.grpcCode = STATUS[code].grpc;
  }
}

export const collectorErrors = {
  invalid: (what: string) => new CollectorError('invalid_request', what),
  unauthenticated: () => new CollectorError('unauthenticated', 'missing or wrong bearer token in the authorization header'),
  tooLarge: (limit: number) => new CollectorError('payload_too_large', `the request body is larger than the limit of ${limit} bytes`),
  unsupportedType: (type: string) => new CollectorError('unsupported_media_type', `content-type "${type}" is not supported; send application/x-protobuf or application/json`),
  unsupportedEncoding: (enc: string) => new CollectorError('unsupported_media_type', `content-encoding "${enc}" is not supported; send gzip or no encoding`),
  spoolFull: (retryAfter: number) => new CollectorError('spool_full', 'the collector cannot take more spans now (its spool is full); retry later', retryAfter),
  busy: (retryAfter: number) => new CollectorError('busy', 'the collector is receiving faster than it can process (its queue is full); retry later', retryAfter),
  unavailable: (why: string, retryAfter: number) => new CollectorError('unavailable', why, retryAfter),
};
