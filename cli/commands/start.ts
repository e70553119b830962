import { resolveStoreTarget, describeStore } from '../../common/store.js';
import { parse, STORE_OPTIONS, storeFlags, UsageError } from '../args.js';
import { tuneHeapForServing } from '../heap.js';
import { defaultConfigYaml } from '../default-config.js';
import { startStack, type Stack, type StackOptions } from '../stack.js';

export const START_OPTIONS = {
  ...STORE_OPTIONS,
  config: { type: 'string', short: 'c' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8080' },
  'grpc-port': { type: 'string', default: '4317' },
  'http-port': { type: 'string', default: '4318' },
  'sql-port': { type: 'string', default: '8123' },
  spool: { type: 'string' },
  'log-level': { type: 'string', default: 'warn' },
  'print-config': { type: 'boolean' },
} as const;

function port(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number (0 picks a free one), got "${raw}"`);
  return n;
}

export function stackOptions(values: Record<string, string | boolean | undefined>): StackOptions {
  const str = (k: string) => values[k] as string;
  return {
    target: resolveStoreTarget(storeFlags(values)),
    configFile: values.config as string | undefined,
    host: str('host'),
    ports: {
      gateway: port(str('port'), '--port'),
      grpc: port(str('grpc-port'), '--grpc-port'),
      http: port(str('http-port'), '--http-port'),
      sql: port(str('sql-port'), '--sql-port'),
    },
    spoolDir: values.spool as string | undefined,
    logLevel: str('log-level'),
  };
}

export function describeStack(stack: Stack, target: StackOptions['target']): string {
  const u = stack.urls;
  return [
    'tracegate is running',
    `  gateway (OpenAI API)   ${u.gateway}/v1        config: ${stack.configSource}`,
    `  collector OTLP/gRPC    ${u.otlpGrpc}`,
    `  collector OTLP/HTTP    ${u.otlpHttp}/v1/traces   (also /v1/feedback, /v1/usage, /healthz, /metrics)`,
    `  ClickHouse HTTP (read) ${u.sql}    (tracegate sql, curl, Grafana)`,
    `  store                  ${describeStore(target)}`,
    '',
    'Send a first request:',
    `  curl -s ${u.gateway}/v1/chat/completions -H 'content-type: application/json' \\`,
    `    -d '{"model":"tracegate-sim-1","messages":[{"role":"user","content":"Hello!"}]}'`,
    'Then: tracegate usage --since 1h   ·   tracegate demo   ·   Ctrl-C to stop',
    '',
  ].join('\n');
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });
}

/** `tracegate start`: gateway + collector + read-only SQL interface on one store. */
export async function runStart(args: string[]): Promise<number> {
  const { values } = parse(args, START_OPTIONS);
  const opts = stackOptions(values);
  if (values['print-config']) {
    process.stdout.write(defaultConfigYaml({ host: opts.host, port: opts.ports.gateway, otlpEndpoint: `http://127.0.0.1:${opts.ports.grpc}` }));
    return 0;
  }
  tuneHeapForServing();
  const stack = await startStack(opts);
  process.stdout.write(describeStack(stack, opts.target));
  await untilSignal();
  process.stdout.write('tracegate: stopping; writing every accepted span to the store…\n');
  await stack.stop();
  process.stdout.write('tracegate: stopped cleanly\n');
  return 0;
}
