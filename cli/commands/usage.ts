import { parseUsageParams, queryUsage, resolveWindow, usageColumns, usageCsv, UsageParamsError, type UsageParams } from '../../common/usage.js';
import { parse, UsageError } from '../args.js';
import { printRows } from '../output.js';
import { openReader, READER_OPTIONS, readerFlags } from '../reader.js';

export const USAGE_HELP = `tracegate usage [--since 1h] [--until TIME] [--by model,provider,route,team,key]
                [--model M] [--provider P] [--route R] [--team T] [--key K] [--service S]
                [--limit N] [--format table|json|csv] [--data DIR | --clickhouse-url URL | --sql-url URL]

Calls, tokens, cost and latency from the per-minute rollups, each model call counted once.
--since/--until: 15m, 1h, 24h, 7d, 30d… or an ISO date-time (until defaults to now).
--by: any of model, provider, route, team, key, service, kind, minute, hour, day (default model).
`;

export async function runUsage(args: string[]): Promise<number> {
  const { values } = parse(args, {
    ...READER_OPTIONS,
    since: { type: 'string' },
    until: { type: 'string' },
    by: { type: 'string' },
    model: { type: 'string' },
    provider: { type: 'string' },
    route: { type: 'string' },
    team: { type: 'string' },
    key: { type: 'string' },
    service: { type: 'string' },
    limit: { type: 'string' },
    format: { type: 'string', default: 'table' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(USAGE_HELP);
    return 0;
  }
  const { data: _d, 'clickhouse-url': _c, database: _db, 'sql-url': _s, help: _h, ...input } = values;
  let params: UsageParams;
  try {
    params = parseUsageParams(input);
    resolveWindow(params);
  } catch (err) {
    if (err instanceof UsageParamsError) throw new UsageError(err.problems.map((p) => `--${p}`).join('; '));
    throw err;
  }
  const reader = await openReader(readerFlags(values));
  try {
    const rows = await queryUsage(reader.client, reader.database, params);
    const format = params.format ?? 'table';
    if (format === 'csv') {
      process.stdout.write(usageCsv(rows, usageColumns(params)));
    } else {
      if (format === 'table') {
        const { start, end } = resolveWindow(params);
        process.stdout.write(`usage ${start.toISOString()} → ${end.toISOString()}${params.by.length ? ` by ${params.by.join(', ')}` : ''} (${reader.description})\n\n`);
      }
      printRows(rows, format, process.stdout);
    }
    return 0;
  } finally {
    await reader.close();
  }
}
