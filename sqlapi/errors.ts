/**
 * ClickHouse-style errors for the read-only HTTP interface: the numeric code and name a
 * ClickHouse server would send, so clients (`@clickhouse/client`, clickhouse-go, Grafana)
 * parse them as they parse a server's. The HTTP status follows the server's own mapping from
 * exception code to status (anything unlisted is a 500, READONLY included).
 */
export const CH_ERRORS = {
  UNKNOWN_TABLE: 60,
  UNKNOWN_DATABASE: 81,
  SYNTAX_ERROR: 62,
  BAD_ARGUMENTS: 36,
  NOT_IMPLEMENTED: 48,
  UNKNOWN_FORMAT: 73,
  UNKNOWN_SETTING: 115,
  READONLY: 164,
  REQUIRED_PASSWORD: 194,
  QUERY_IS_TOO_LARGE: 229,
  UNKNOWN_QUERY_PARAMETER: 456,
  AUTHENTICATION_FAILED: 516,
  HTTP_LENGTH_REQUIRED: 381,
  UNSUPPORTED_METHOD: 1,
  CANNOT_DECOMPRESS: 271,
  STD_EXCEPTION: 1001,
  ACCESS_DENIED: 497,
  TOO_MANY_SIMULTANEOUS_QUERIES: 202,
  SETTING_CONSTRAINT_VIOLATION: 452,
  QUERY_WAS_CANCELLED: 394,
} as const;

export type ChErrorName = keyof typeof CH_ERRORS;

// src/Server/HTTP/exceptionCodeToHTTPStatus.cpp of ClickHouse, by code.
const BAD_REQUEST = new Set([36, 6, 27, 38, 41, 26, 25, 62, 117, 53, 72, 441, 376, 44, 8, 15, 37, 123, 167, 168, 223, 321, 427]);
const NOT_FOUND = new Set([60, 46, 47, 50, 56, 81, 115, 63, 73, 152, 78, 336, 511]);

/** The status a ClickHouse server answers for an exception code. */
export function httpStatusFor(code: number): number {
  if (code === CH_ERRORS.REQUIRED_PASSWORD) return 401;
  if (code === CH_ERRORS.AUTHENTICATION_FAILED || code === 192 || code === 193 || code === 497) return 403;
  if (BAD_REQUEST.has(code)) return 400;
  if (NOT_FOUND.has(code)) return 404;
  if (code === CH_ERRORS.QUERY_IS_TOO_LARGE) return 413;
  if (code === CH_ERRORS.NOT_IMPLEMENTED) return 501;
  if (code === 209 || code === 76 || code === 439) return 503;
  if (code === CH_ERRORS.HTTP_LENGTH_REQUIRED) return 411;
  if (code === 159) return 408;
  return 500;
}

/** An error to answer in ClickHouse's text form: `Code: N. DB::Exception: message. (NAME) (version V)`. */
export class ChError extends Error {
  constructor(
    readonly code: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }

  static of(name: ChErrorName, message: string): ChError {
    return new ChError(CH_ERRORS[name], name, message);
  }

  get status(): number {
    // A server answers 202 with a 500; here the refusal is load shedding, so 503 tells clients to retry.
    if (this.code === CH_ERRORS.TOO_MANY_SIMULTANEOUS_QUERIES) return 503;
    return httpStatusFor(this.code);
  }

  render(version: string): string {
    const text = this.message.trim().replace(/[.\s]+$/, '');
    return `Code: ${this.code}. DB::Exception: ${text}. (${this.type}) (version ${version})\n`;
  }
}

/**
 * Turns what the store's client threw into a ChError. The engine's own errors keep their code
 * and name (the client parsed them from the engine's text); anything else is reported without
 * internals.
 */
export function toChError(err: unknown): ChError {
  if (err instanceof ChError) return err;
  const e = err as { code?: unknown; type?: unknown; message?: unknown; name?: unknown };
  const code = Number(e?.code);
  if (Number.isInteger(code) && code > 0 && typeof e.type === 'string') {
    return new ChError(code, e.type, String(e.message ?? ''));
  }
  if (e?.name === 'ChdbBindError') return ChError.of('BAD_ARGUMENTS', `cannot bind a query parameter: ${String(e.message)}`);
  if (e?.name === 'AbortError') return new ChError(394, 'QUERY_WAS_CANCELLED', 'the client went away; the query was cancelled');
  return ChError.of('STD_EXCEPTION', 'the query failed inside the engine; see the collector log');
}
