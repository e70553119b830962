/**
 * What the receivers answer, in both encodings: `ExportTraceServiceResponse` (with
 * `ExportTracePartialSuccess` when spans were refused) and `google.rpc.Status` for errors, with
 * a `google.rpc.RetryInfo` detail when the client should retry after a delay.
 */
import { ProtoWriter } from '../../common/protobuf/writer.js';

/** gRPC status codes used by the receivers (google.rpc.Code). */
export const GRPC = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** One small message, built with `build` into a buffer of its own. */
function encode(build: (w: ProtoWriter) => void): Buffer {
  const w = new ProtoWriter(256);
  build(w);
  return w.copy();
}

/** ExportTraceServiceResponse { partial_success = 1 { rejected_spans = 1, error_message = 2 } }. */
export function exportResponseProto(rejected: number, message: string): Buffer {
  if (rejected === 0 && !message) return Buffer.alloc(0);
  return encode((w) => {
    w.byte(0x0a);
    const partial = w.begin();
    if (rejected) {
      w.byte(0x08);
      w.int64(rejected);
    }
    if (message) {
      w.byte(0x12);
      w.string(message);
    }
    w.end(partial);
  });
}

export function exportResponseJson(rejected: number, message: string): string {
  if (rejected === 0 && !message) return '{}';
  return JSON.stringify({ partialSuccess: { rejectedSpans: String(rejected), errorMessage: message } });
}

/** google.rpc.Status { code = 1, message = 2, details = 3 (Any { type_url = 1, value = 2 }) }. */
export function statusProto(code: number, text: string, retryAfterSeconds?: number): Buffer {
  return encode((w) => {
    w.byte(0x08);
    w.uvarint(code);
    w.byte(0x12);
    w.string(text);
    if (retryAfterSeconds !== undefined) {
      // details: Any { type_url, value = RetryInfo { retry_delay = 1 (Duration { seconds = 1 }) } }
      w.byte(0x1a);
      const any = w.begin();
      w.byte(0x0a);
      w.string(RETRY_INFO_TYPE);
      w.byte(0x12);
      const retryInfo = w.begin();
      w.byte(0x0a);
      const duration = w.begin();
      w.byte(0x08);
      w.int64(retryAfterSeconds);
      w.end(duration);
      w.end(retryInfo);
      w.end(any);
    }
  });
}

export function statusJson(code: number, message: string, retryAfterSeconds?: number): string {
  const details = retryAfterSeconds === undefined ? [] : [{ '@type': RETRY_INFO_TYPE, retryDelay: `${retryAfterSeconds}s` }];
  return JSON.stringify({ code, message, details });
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';
