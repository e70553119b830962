import type { ClickHouseClient } from '@clickhouse/client';
import { parseUsageParams, queryUsage } from '../../common/usage.js';
import { readTrace, renderTraceTree } from '../../common/trace-tree.js';
import { refreshRollups } from '../../schemas/rollups.js';
import { parse } from '../args.js';
import { runDemoAgent } from '../demo/agent.js';
import { printRows } from '../output.js';
import { openReader } from '../reader.js';
import { startStack, type Stack } from '../stack.js';
import { describeStack, START_OPTIONS, stackOptions } from './start.js';

const OPTIONS = {
  ...START_OPTIONS,
  gateway: { type: 'string' },
  otlp: { type: 'string' },
  'sql-url': { type: 'string' },
  model: { type: 'string', default: 'tracegate-sim-1' },
  'wait-seconds': { type: 'string', default: '60' },
} as const;

interface Where {
  gatewayUrl: string;
  otlpGrpcUrl: string;
  client: ClickHouseClient;
  database: string;
  /** In-process: refresh the rollups at once instead of waiting for their schedule. */
  refresh?: () => Promise<void>;
  close(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(800) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** A running tracegate when one answers (or is named), else a stack of our own in this process. */
async function locate(values: Record<string, string | boolean | undefined>): Promise<Where> {
  const str = (k: string) => values[k] as string | undefined;
  const gatewayUrl = str('gateway') ?? `http://127.0.0.1:${str('port')}`;
  if (str('gateway') || (await answers(`${gatewayUrl}/v1/models`))) {
    const reader = await openReader({ sqlUrl: str('sql-url') ?? `http://127.0.0.1:${str('sql-port')}`, database: str('database') });
    process.stdout.write(`using the running tracegate at ${gatewayUrl}\n`);
    return {
      gatewayUrl,
      otlpGrpcUrl: str('otlp') ?? `http://127.0.0.1:${str('grpc-port')}`,
      client: reader.client,
      database: reader.database,
      close: () => reader.close(),
    };
  }
  const opts = stackOptions(values);
  const stack: Stack = await startStack(opts);
  process.stdout.write(describeStack(stack, opts.target));
  return {
    gatewayUrl: stack.urls.gateway,
    otlpGrpcUrl: stack.urls.otlpGrpc,
    client: stack.store.client,
    database: stack.store.database,
    refresh: async () => {
      await stack.collector.idle(10_000);
      await refreshRollups(stack.store.client, stack.store.database);
    },
    close: () => stack.stop(),
  };
}

interface RunRow {
  llm_calls: number;
  tool_calls: number;
  gateway_calls: number;
  run_ok: number;
  usage_ok: number;
}

/** Waits until the agent run is whole in ClickHouse: its LLM, tool and gateway spans all landed and rolled up. */
async function waitForRun(w: Where, traceId: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    await w.refresh?.();
    // The rollups are whole once they have read the newest version of every span of the
    // trace, the count-once rewrite included.
    const rs = await w.client.query({
      query: `SELECT llm_calls, tool_calls, gateway_calls,
          (SELECT max(inserted_at) FROM ${w.database}.llm_spans_data WHERE trace_id = {t:String}) AS newest,
          source_inserted_at >= newest AS run_ok,
          (SELECT max(source_inserted_at) FROM ${w.database}.usage_minutely_data) >= newest AS usage_ok
        FROM ${w.database}.agent_runs WHERE trace_id = {t:String}`,
      query_params: { t: traceId },
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<RunRow>();
    const whole = row && Number(row.llm_calls) >= 3 && Number(row.tool_calls) >= 2 && Number(row.gateway_calls) >= 3;
    if (whole && Number(row.run_ok) && Number(row.usage_ok)) return true;
    await new Promise((r) => setTimeout(r, w.refresh ? 200 : 1000));
  }
  return false;
}

/** `tracegate demo`: one multi-step agent run through the gateway, read back from ClickHouse. */
export async function runDemo(args: string[]): Promise<number> {
  const { values } = parse(args, OPTIONS);
  const where = await locate(values);
  try {
    process.stdout.write(`running the demo agent (model ${values.model}) …\n`);
    const { traceId, answer } = await runDemoAgent({ gatewayUrl: where.gatewayUrl, otlpGrpcUrl: where.otlpGrpcUrl, model: values.model });
    process.stdout.write(`agent answered: ${answer.slice(0, 160)}${answer.length > 160 ? '…' : ''}\n\ntrace ${traceId}\n`);
    const whole = await waitForRun(where, traceId, Number(values['wait-seconds']) * 1000);
    if (!whole) process.stdout.write('(the run is not complete in ClickHouse yet; showing what has landed)\n');
    process.stdout.write(renderTraceTree(await readTrace(where.client, where.database, traceId)));
    process.stdout.write('\nusage in the last hour, by model and route (each call counted once):\n');
    const rows = await queryUsage(where.client, where.database, parseUsageParams({ since: '1h', by: 'model,provider,route' }));
    printRows(rows, 'table', process.stdout);
    process.stdout.write(`\nsee it again: tracegate trace ${traceId}   ·   tracegate usage --since 1h\n`);
    return whole ? 0 : 1;
  } finally {
    await where.close();
  }
}
