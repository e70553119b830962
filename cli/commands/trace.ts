import { normalizeTraceId, readTrace, renderTraceTree, TraceNotFoundError } from '../../common/trace-tree.js';
import { parse, UsageError } from '../args.js';
import { openReader, READER_OPTIONS, readerFlags } from '../reader.js';

export const TRACE_HELP = `tracegate trace <trace-id> [--format tree|json] [--data DIR | --clickhouse-url URL | --sql-url URL]

One trace as a tree: kind, name, model, tokens, cost and duration of every span.
`;

export async function runTrace(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...READER_OPTIONS, format: { type: 'string', default: 'tree' }, help: { type: 'boolean' } }, true);
  if (values.help) {
    process.stdout.write(TRACE_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('give one trace id: tracegate trace 4bf92f3577b34da6a3ce929d0e0e4736');
  if (values.format !== 'tree' && values.format !== 'json') throw new UsageError('--format must be tree or json');
  let traceId: string;
  try {
    traceId = normalizeTraceId(positionals[0]);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const reader = await openReader(readerFlags(values));
  try {
    const trace = await readTrace(reader.client, reader.database, traceId);
    process.stdout.write(values.format === 'json' ? `${JSON.stringify(trace, null, 2)}\n` : renderTraceTree(trace));
    return 0;
  } catch (err) {
    if (err instanceof TraceNotFoundError) {
      process.stderr.write(`tracegate: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await reader.close();
  }
}
