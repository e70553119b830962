#!/usr/bin/env node
import { runMigrate } from './commands/migrate.js';
import { runSql } from './commands/sql.js';
import { runCollector } from './commands/collector.js';
import { runUsage } from './commands/usage.js';
import { runTrace } from './commands/trace.js';
import { runRender, runValidate } from './commands/validate.js';
import { runGateway } from './commands/gateway.js';
import { runStart } from './commands/start.js';
import { runDemo } from './commands/demo.js';
import { runKeys } from './commands/keys.js';
import { runEvaluate } from './commands/evaluate.js';
import { UsageError } from './args.js';
import { READER_HELP } from './reader.js';

const HELP = `tracegate: an AI gateway with an OpenInference observability pipeline into ClickHouse

Usage: tracegate <command> [options]

Commands:
  start [--config FILE] [--data DIR] [--host H] [--port 8080] [--grpc-port 4317] [--http-port 4318] [--sql-port 8123] [--print-config]
        [--insecure] [--master-key-file F] [--key-pepper-file F] [--collector-token-file F] [--sql-user U] [--sql-password-file F]
        [--sql-max-execution-time S] [--sql-max-memory-usage B] [--sql-max-result-rows N]
        [--sql-max-result-bytes B] [--sql-max-concurrent-queries N]
                              run gateway + collector + read-only SQL interface on one store (npm start);
                              beyond loopback the secrets are required unless --insecure
  demo [--model M] [--gateway URL --otlp URL --sql-url URL]
                              a multi-step agent run through the gateway, its trace and usage read back
  migrate [--data DIR | --clickhouse-url URL] [--cluster NAME] [--print]
                              apply the ClickHouse schema (or print the DDL with --print)
  sql "<query>" [--format table|json|csv] [--data DIR | --clickhouse-url URL]
                              run a read-only query against the store
  usage [--since 1h] [--by model,provider,route,team,key] [--format table|json|csv]
                              calls, tokens, cost and latency from the rollups (--help: filters)
  trace <trace-id> [--format tree|json]
                              one trace as a tree: kind, name, model, tokens, cost, duration
  evaluate --config FILE [--since 24h] [--evaluator NAME] [--gateway URL] [--otlp URL]
                              re-run Evaluator documents over stored spans (--help: --scores by model)
  validate --config FILE [--render] [--schema]
                              check a gateway config: every problem with its path, or OK
  render --config FILE        print the config's routes as Gateway API HTTPRoutes (YAML)
  gateway --config FILE [--host H] [--port N] [--master-key-file F] [--key-pepper-file F] [--insecure]
                              run the gateway alone, reloading the config when it changes
  keys create --name N --team T [--expires 30d|RFC3339] [--allowed-models GLOB,...] [--allowed-routes GLOB,...]
                              a new client key (shown once, on stderr) and its ApiKey document (stdout)
  keys hash < key.txt         the hash of a key made elsewhere, read from stdin (never from argv)
  collector [--grpc-port N] [--http-port N] [--spool DIR] [--config FILE] [--data DIR | --clickhouse-url URL]
        [--collector-token-file F] [--insecure] [--evaluators FILE --gateway URL]
                              run the collector alone (OTLP in, ClickHouse out); with --evaluators, also
                              the online evaluators of FILE, their judges called through the gateway at URL
  help                        this text

Environment: TRACEGATE_DATA (embedded store folder, default ./.tracegate/data),
CLICKHOUSE_URL, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE (a server instead),
TRACEGATE_SQL_URL (a running tracegate's read-only SQL interface).
Secrets (or the --*-file flags): TRACEGATE_MASTER_KEY (gateway master key),
TRACEGATE_KEY_PEPPER (the secret ApiKey hashes are made with, at least 32 characters; required
to start with ApiKeys, and by tracegate keys), TRACEGATE_COLLECTOR_TOKEN (collector bearer token), TRACEGATE_SQL_USER and
TRACEGATE_SQL_PASSWORD (SQL interface login; also read by sql/usage/trace).

${READER_HELP}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return runStart(rest);
    case 'demo':
      return runDemo(rest);
    case 'migrate':
      return runMigrate(rest);
    case 'sql':
      return runSql(rest);
    case 'collector':
      return runCollector(rest);
    case 'usage':
      return runUsage(rest);
    case 'trace':
      return runTrace(rest);
    case 'validate':
      return runValidate(rest);
    case 'render':
      return runRender(rest);
    case 'gateway':
      return runGateway(rest);
    case 'keys':
      return runKeys(rest);
    case 'evaluate':
      return runEvaluate(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"; run "tracegate help" for the list`);
  }
}

// A reader that went away (`tracegate sql … | head`) ends the command quietly, as cat does.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  process.stderr.write(`tracegate: cannot write the output: ${err.message}\n`);
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A line that says what happened, not a stack trace; TRACEGATE_DEBUG=1 shows the stack.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tracegate: ${message}\n`);
    if (process.env.TRACEGATE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
