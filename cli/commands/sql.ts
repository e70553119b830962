import { embeddedEngine } from '../../sqlapi/engine.js';
import { checkReadOnly } from '../../sqlapi/readonly.js';
import { sessionSettings } from '../../sqlapi/settings.js';
import { parseSqlInterfaceConfig } from '../../sqlapi/config.js';
import { ChError } from '../../sqlapi/errors.js';
import { parse, UsageError } from '../args.js';
import { openReader, READER_OPTIONS, readerFlags, type Reader } from '../reader.js';
import { printRows, OUTPUT_FORMATS, type OutputFormat } from '../output.js';

export async function runSql(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...READER_OPTIONS, format: { type: 'string', default: 'table' } }, true);
  const query = positionals.join(' ').trim();
  if (!query) throw new UsageError('give a query: tracegate sql "SELECT count() FROM tracegate.otel_traces"');
  const format = values.format as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`);
  // The embedded folder, a server, or a running stack's read-only SQL interface (cli/reader.ts).
  const reader = await openReader(readerFlags(values));
  try {
    const rows = reader.dataDir ? await readEmbedded(reader.dataDir, reader.database, query) : await readRemote(reader, query);
    printRows(rows, format, process.stdout);
    return 0;
  } finally {
    await reader.close();
  }
}

/** The same engine-checked, read-only session the SQL interface runs its queries on. */
async function readEmbedded(dataDir: string, database: string, query: string): Promise<Record<string, unknown>[]> {
  const engine = embeddedEngine(dataDir);
  const session = await engine.open(sessionSettings(parseSqlInterfaceConfig({}), [], database), database);
  try {
    const checked = await checkReadOnly(session, query, { database, defaultFormat: 'JSONEachRow' });
    if (checked.format !== 'JSONEachRow') throw ChError.of('BAD_ARGUMENTS', 'leave FORMAT out of the query; use --format table|json|csv');
    let text = '';
    for await (const chunk of session.stream(checked.sql, { format: checked.format, params: {}, signal: new AbortController().signal })) text += chunk.toString('utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch (err) {
    throw sqlError(err);
  } finally {
    session.close();
  }
}

/** A server or the SQL interface decides; its error is printed once, as it sent it. */
async function readRemote(reader: Reader, query: string): Promise<Record<string, unknown>[]> {
  try {
    const rs = await reader.client.query({ query, format: 'JSONEachRow' });
    return await rs.json<Record<string, unknown>>();
  } catch (err) {
    throw sqlError(err);
  }
}

/** One line per SQL error, without a stack: `Code: 62 (SYNTAX_ERROR): …`. */
function sqlError(err: unknown): Error {
  const e = err as { code?: unknown; type?: unknown; message?: unknown };
  if (err instanceof ChError || (typeof e?.type === 'string' && e.code !== undefined)) {
    const message = String(e.message ?? '')
      .split('\n')[0]
      .replace(/\s*\(version [^)]*\)\s*$/, '');
    return new Error(`Code: ${String(e.code)} (${String(e.type)}): ${message}`);
  }
  return err instanceof Error ? new Error(err.message.split('\n')[0]) : new Error(String(err));
}
