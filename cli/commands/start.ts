import { resolveStoreTarget, describeStore } from '../../common/store.js';
import { parse, STORE_OPTIONS, storeFlags, UsageError } from '../args.js';
import { tuneHeapForServing } from '../heap.js';
import { defaultConfigYaml } from '../default-config.js';
import type { GatewayConfig } from '../../gateway/config/model.js';
import { authenticationLine, keyPepperFrom, secretFrom } from '../exposure.js';
import { sqlLimitsFromFlags } from '../../sqlapi/index.js';
import { startStack, type Stack, type StackAuth, type StackOptions } from '../stack.js';

export const START_OPTIONS = {
  ...STORE_OPTIONS,
  config: { type: 'string', short: 'c' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8080' },
  'grpc-port': { type: 'string', default: '4317' },
  'http-port': { type: 'string', default: '4318' },
  'sql-port': { type: 'string', default: '8123' },
  'sql-max-execution-time': { type: 'string' },
  'sql-max-memory-usage': { type: 'string' },
  'sql-max-result-rows': { type: 'string' },
  'sql-max-result-bytes': { type: 'string' },
  'sql-max-concurrent-queries': { type: 'string' },
  spool: { type: 'string' },
  'log-level': { type: 'string', default: 'warn' },
  'print-config': { type: 'boolean' },
  // Secrets come from files or the environment, never from a flag's value (visible in `ps`).
  'master-key-file': { type: 'string' },
  'key-pepper-file': { type: 'string' },
  'collector-token-file': { type: 'string' },
  'sql-user': { type: 'string' },
  'sql-password-file': { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

function port(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number (0 picks a free one), got "${raw}"`);
  return n;
}

/** Credentials from `--*-file` flags or TRACEGATE_MASTER_KEY, TRACEGATE_KEY_PEPPER, TRACEGATE_COLLECTOR_TOKEN, TRACEGATE_SQL_USER / _PASSWORD. */
export function stackAuth(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): StackAuth {
  const file = (k: string) => values[k] as string | undefined;
  const keyFile = file('master-key-file');
  return {
    masterKey: secretFrom(keyFile, 'TRACEGATE_MASTER_KEY', env, '--master-key-file'),
    masterKeyRef: keyFile ? `$(cat ${keyFile})` : '$TRACEGATE_MASTER_KEY',
    keyPepper: keyPepperFrom(file('key-pepper-file'), env),
    collectorToken: secretFrom(file('collector-token-file'), 'TRACEGATE_COLLECTOR_TOKEN', env, '--collector-token-file'),
    sqlUser: file('sql-user') ?? (env.TRACEGATE_SQL_USER || undefined),
    sqlPassword: secretFrom(file('sql-password-file'), 'TRACEGATE_SQL_PASSWORD', env, '--sql-password-file'),
  };
}

function sqlLimits(values: Record<string, unknown>): StackOptions['sqlLimits'] {
  try {
    return sqlLimitsFromFlags(values);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function stackOptions(values: Record<string, string | boolean | undefined>): StackOptions {
  const str = (k: string) => values[k] as string;
  return {
    auth: stackAuth(values),
    insecure: values.insecure === true,
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
    sqlLimits: sqlLimits(values),
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
    authenticationLine(stack.apiKeys, stack.masterKeyRef !== undefined),
    '',
    'Send a first request:',
    `  curl -s ${u.gateway}/v1/chat/completions -H 'content-type: application/json' \\`,
    ...(stack.masterKeyRef || stack.apiKeys ? [`    -H "Authorization: Bearer ${stack.masterKeyRef ?? '$TRACEGATE_API_KEY'}" \\`] : []),
    `    -d '{"model":"${exampleModel(stack.gateway.config)}","messages":[{"role":"user","content":"Hello!"}]}'`,
    'Then: tracegate usage --since 1h   ·   tracegate demo   ·   Ctrl-C to stop',
    '',
  ].join('\n');
}

/**
 * A model the configuration serves, for the banner's example: the first exact model name of a
 * rule with a usable backend, else the first glob with its wildcards filled in.
 */
export function exampleModel(config: GatewayConfig): string {
  const usable = (backend: string) => !config.backends.get(backend)?.disabled;
  const names = config.routes
    .flatMap((r) => r.rules)
    .filter((rule) => rule.targets.some((t) => t.weight > 0 && usable(t.backend)))
    .flatMap((rule) => rule.matches.map((m) => m.model ?? 'gpt-4o-mini'));
  const exact = names.find((m) => !/[*?]/.test(m));
  return exact ?? names[0]?.replace(/[*?]/g, '1') ?? 'gpt-4o-mini';
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
