import { checkReadOnly } from '../../sqlapi/readonly.js';
import { parse, UsageError } from '../args.js';
import { openReader, READER_OPTIONS, readerFlags } from '../reader.js';
import { printRows, OUTPUT_FORMATS, type OutputFormat } from '../output.js';

export async function runSql(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...READER_OPTIONS, format: { type: 'string', default: 'table' } }, true);
  const query = positionals.join(' ').trim();
  if (!query) throw new UsageError('give a query: tracegate sql "SELECT count() FROM tracegate.otel_traces"');
  const format = values.format as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`);
  const verdict = checkReadOnly(query);
  if (!verdict.ok) throw new UsageError(`refused: ${verdict.reason}`);
  // The embedded folder, a server, or a running stack's read-only SQL interface (cli/reader.ts).
  const reader = await openReader(readerFlags(values));
  try {
    const rs = await reader.client.query({ query, format: 'JSONEachRow' });
    printRows(await rs.json<Record<string, unknown>>(), format, process.stdout);
    return 0;
  } finally {
    await reader.close();
  }
}
