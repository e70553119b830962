import { describe, expect, it } from 'vitest';
import { CH_ERRORS, ChError, httpStatusFor } from '../../sqlapi/errors.js';

describe('the error catalogue', () => {
  it('gives each name its own code (ClickHouse src/Common/ErrorCodes.cpp)', () => {
    const byCode = new Map<number, string[]>();
    for (const [name, code] of Object.entries(CH_ERRORS)) byCode.set(code, [...(byCode.get(code) ?? []), name]);
    expect([...byCode.values()].filter((names) => names.length > 1)).toEqual([]);
    expect(CH_ERRORS.QUERY_IS_TOO_LARGE).toBe(229);
    expect(CH_ERRORS.TOO_MANY_SIMULTANEOUS_QUERIES).toBe(202);
  });

  it.each([
    ['QUERY_IS_TOO_LARGE', 413],
    ['TOO_MANY_SIMULTANEOUS_QUERIES', 503],
    ['SYNTAX_ERROR', 400],
    ['UNKNOWN_TABLE', 404],
    ['AUTHENTICATION_FAILED', 403],
    ['REQUIRED_PASSWORD', 401],
    ['READONLY', 500],
    ['NOT_IMPLEMENTED', 501],
  ] as const)('%s answers HTTP %i', (name, status) => {
    expect(ChError.of(name, 'x').status).toBe(status);
  });

  it('maps engine codes as exceptionCodeToHTTPStatus.cpp does', () => {
    expect([159, 241, 396, 394, 72, 152, 209].map(httpStatusFor)).toEqual([408, 500, 500, 500, 400, 404, 503]);
  });
});
