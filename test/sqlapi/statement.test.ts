import { describe, expect, it } from 'vitest';
import { contentTypeFor } from '../../sqlapi/statement.js';
import { useReadSession } from './read-session.js';
import { classifyParam, decodeParamValue, splitParams } from '../../sqlapi/settings.js';
import { parseQuery, pickEncoding, credentialsOf, checkCredentials } from '../../sqlapi/request.js';
import { ChError } from '../../sqlapi/errors.js';
import { checkReadOnly } from '../../sqlapi/readonly.js';

function chErr(fn: () => unknown): ChError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ChError) return err;
    throw err;
  }
  throw new Error('expected a ChError');
}

describe('checkReadOnly on a read session of the engine', () => {
  const fixture = useReadSession();
  const check = (text: string, defaultFormat?: string) => checkReadOnly(fixture.session(), text, { database: 'tracegate', defaultFormat });

  it.each([
    ['SELECT 1', undefined, 'SELECT 1 FORMAT TabSeparated', 'TabSeparated'],
    ['SELECT 1;', undefined, 'SELECT 1 FORMAT TabSeparated', 'TabSeparated'],
    ['SELECT 1 -- note', 'JSON', 'SELECT 1 FORMAT JSON', 'JSON'],
    ['SELECT 1 FORMAT CSV', 'JSON', 'SELECT 1 FORMAT CSV', 'CSV'],
    ["SELECT 'FORMAT JSON' AS f", undefined, "SELECT 'FORMAT JSON' AS f FORMAT TabSeparated", 'TabSeparated'],
    ['select 1 as format format JSONEachRow', undefined, 'SELECT 1 AS format FORMAT JSONEachRow', 'JSONEachRow'],
  ])('%j (default %s) runs as the engine prints it', async (text, defaultFormat, sql, format) => {
    expect(await check(text, defaultFormat)).toEqual({ sql, format });
  });

  it('reads url columns and extractURLParameter as reads', async () => {
    await expect(check("SELECT extractURLParameter(url, 'a'), domain(url) FROM t")).resolves.toMatchObject({ format: 'TabSeparated' });
  });

  it("reports a syntax error as the engine's SYNTAX_ERROR", async () => {
    await expect(check('SELEC 1')).rejects.toMatchObject({ code: 62, type: 'SYNTAX_ERROR' });
  });

  it('refuses a bad default_format name', async () => {
    await expect(check('SELECT 1', 'JSON; DROP')).rejects.toMatchObject({ code: 73 });
  });
});

describe('URL parameters', () => {
  it.each([
    ['param_x', 'query_param'],
    ['database', 'protocol'],
    ['default_format', 'protocol'],
    ['enable_http_compression', 'http'],
    ['wait_end_of_query', 'protocol'],
    ['send_progress_in_http_headers', 'http'],
    ['readonly', 'readonly'],
    ['max_result_rows', 'statement'],
    ['output_format_json_quote_64bit_integers', 'statement'],
    ['date_time_output_format', 'statement'],
    ['max_execution_time', 'statement'],
    ['session_timezone', 'statement'],
    ['allow_ddl', 'refused'],
    ['max_insert_block_size', 'refused'],
    ['insert_deduplication_token', 'refused'],
    ['async_insert', 'refused'],
    ['allow_introspection_functions', 'refused'],
    ['profile', 'refused'],
  ])('%s is %s', (name, cls) => {
    expect(classifyParam(name)).toBe(cls);
  });

  it('puts harmless settings in the statement and drops readonly', () => {
    const split = splitParams(new URLSearchParams('readonly=1&max_result_rows=10&date_time_output_format=iso&param_a=1&enable_http_compression=1'));
    expect(split.statementSettings).toEqual(['max_result_rows = 10', "date_time_output_format = 'iso'"]);
    expect(split.queryParams).toEqual({ a: '1' });
    expect(split.http.get('enable_http_compression')).toBe('1');
  });

  it('refuses a writing setting with a READONLY error', () => {
    const err = chErr(() => splitParams(new URLSearchParams('insert_deduplication_token=x')));
    expect(err.code).toBe(164);
    expect(err.message).toContain("Cannot modify 'insert_deduplication_token' setting in readonly mode");
  });

  it.each([
    ['plain', 'plain'],
    ["it\\'s", "it's"],
    ['a\\tb\\nc\\\\d', 'a\tb\nc\\d'],
    ['\\x41', 'A'],
    ['\\N', null],
    ["['it\\'s','b\\\\c']", "['it''s','b\\c']"],
    ['[1,2]', '[1,2]'],
  ])('decodes param value %j', (raw, value) => {
    expect(decodeParamValue(raw)).toBe(value);
  });
});

describe('parseQuery', () => {
  it('joins the URL query and the body with a newline', () => {
    const p = parseQuery(new URLSearchParams('query=SELECT%201'), ', 2', undefined);
    expect(p.text).toBe('SELECT 1\n, 2');
  });
  it('refuses native block compression', () => {
    expect(chErr(() => parseQuery(new URLSearchParams('query=SELECT 1&compress=1'), '', undefined)).code).toBe(48);
  });
  it('picks a response encoding only when asked', () => {
    expect(parseQuery(new URLSearchParams('query=SELECT 1'), '', 'gzip').responseEncoding).toBeUndefined();
    expect(parseQuery(new URLSearchParams('query=SELECT 1&enable_http_compression=1'), '', 'gzip, deflate').responseEncoding).toBe('gzip');
    expect(pickEncoding('zstd, br;q=1, gzip;q=0')).toBe('br');
    expect(pickEncoding('identity')).toBeUndefined();
  });
});

describe('credentials', () => {
  it.each([
    [{ 'x-clickhouse-user': 'u', 'x-clickhouse-key': 'p' }, '', { user: 'u', password: 'p' }],
    [{ authorization: `Basic ${Buffer.from('u:p:q').toString('base64')}` }, '', { user: 'u', password: 'p:q' }],
    [{}, 'user=u&password=p', { user: 'u', password: 'p' }],
    [{}, '', { user: 'default', password: '' }],
  ])('reads %j %s', (headers, search, creds) => {
    expect(credentialsOf(headers, new URLSearchParams(search))).toEqual(creds);
  });
  it('checks a configured password', () => {
    expect(() => checkCredentials({ user: 'default', password: 'x' }, { user: 'default' })).not.toThrow();
    expect(() => checkCredentials({ user: 'default', password: 's3cret' }, { user: 'default', password: 's3cret' })).not.toThrow();
    expect(chErr(() => checkCredentials({ user: 'default', password: 'no' }, { user: 'default', password: 's3cret' })).status).toBe(403);
  });
});

describe('content types', () => {
  it.each([
    ['JSONEachRow', 'application/x-ndjson; charset=UTF-8'],
    ['JSON', 'application/json; charset=UTF-8'],
    ['CSVWithNames', 'text/csv; charset=UTF-8; header=present'],
    ['TabSeparated', 'text/tab-separated-values; charset=UTF-8'],
    ['Native', 'application/octet-stream'],
    ['RowBinaryWithNamesAndTypes', 'application/octet-stream'],
    ['PrettyCompact', 'text/plain; charset=UTF-8'],
  ])('%s → %s', (format, type) => {
    expect(contentTypeFor(format)).toBe(type);
  });
});
