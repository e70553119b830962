/**
 * What the receivers answer, in both encodings: `ExportTraceServiceResponse` (with
 * `ExportTracePartialSuccess` when spans were refused) and `google.rpc.Status` for errors, with
 * a `google.rpc.RetryInfo` detail when the client should retry after a delay.
 */

/** gRPC status codes used by the receivers (google.rpc.Code). */
export const GRPC = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** A protobuf varint's bytes (non-negative integers up to 2^53). */
export function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A length-delimited field: tag, length, bytes. */
export function lenField(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(bytes.length)]), bytes]);
}

function varintField(field: number, n: number): Buffer {
  return Buffer.from([(field << 3) | 0, ...varint(n)]);
}

/** ExportTraceServiceResponse { partial_success = 1 { rejected_spans = 1, error_message = 2 } }. */
export function exportResponseProto(rejected: number, message: string): Buffer {
  if (rejected === 0 && !message) return Buffer.alloc(0);
  const inner = Buffer.concat([rejected ? varintField(1, rejected) : Buffer.alloc(0), message ? lenField(2, Buffer.from(message)) : Buffer.alloc(0)]);
  return lenField(1, inner);
}

export function exportResponseJson(rejected: number, message: string): string {
  if (rejected === 0 && !message) return '{}';
  return JSON.stringify({ partialSuccess: { rejectedSpans: String(rejected), errorMessage: message } });
}

/** google.rpc.Status { code = 1, message = 2, details = 3 (Any { type_url = 1, value = 2 }) }. */
export function statusProto(code: number, message: string, retryAfterSeconds?: number): Buffer {
  const parts = [varintField(1, code), lenField(2, Buffer.from(message))];
  if (retryAfterSeconds !== undefined) parts.push(lenField(3, retryInfoAny(retryAfterSeconds)));
  return Buffer.concat(parts);
}

export function statusJson(code: number, message: string, retryAfterSeconds?: number): string {
  const details = retryAfterSeconds === undefined ? [] : [{ '@type': RETRY_INFO_TYPE, retryDelay: `${retryAfterSeconds}s` }];
  return JSON.stringify({ code, message, details });
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** Any { type_url, value = RetryInfo { retry_delay = 1 (Duration { seconds = 1 }) } }. */
function retryInfoAny(seconds: number): Buffer {
  const retryInfo = lenField(1, varintField(1, seconds));
  return Buffer.concat([lenField(1, Buffer.from(RETRY_INFO_TYPE)), lenField(2, retryInfo)]);
}
