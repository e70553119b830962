/**
 * Writes sqlapi/allowlist/functions.json: the functions of the shipped engine a SQL user may
 * call, taken from its own `system.functions` minus everything that reads files, reaches the
 * network, reads dictionaries or models, reveals the server's settings and environment, or
 * sleeps. Run again after upgrading chdb: `npx tsx sqlapi/allowlist/generate.ts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whole categories that reach outside the query: dictionaries, models, AI calls, internals. */
const REFUSED_CATEGORIES = new Set(['Dictionary', 'Embedded Dictionary', 'Introspection', 'Internal', 'AI', 'Machine Learning']);

/** Single functions, by canonical name, that read files, reach the network or reveal the server. */
const REFUSED = new RegExp(
  '^(' +
    [
      'file',
      'filesystem\\w*',
      'getSetting\\w*',
      'getServerSetting',
      'getMergeTreeSetting',
      'sleep\\w*',
      'dictGet\\w*',
      'dictHas',
      'dictIsIn',
      'joinGet\\w*',
      'hasColumnInTable',
      'getServerPort',
      'serverUUID',
      'hostName',
      'hostname',
      'fqdn',
      'tcpPort',
      'getMacro',
      'shardNum',
      'shardCount',
      'uptime',
      'buildId',
      'getOSKernelVersion',
      'currentProfiles',
      'enabledProfiles',
      'defaultProfiles',
      'currentRoles',
      'enabledRoles',
      'defaultRoles',
      'getClientHTTPHeader',
      'zookeeperSessionUptime',
      'globalVariable',
      'displayName',
      'transaction\\w*',
      'addressTo\\w*',
      'demangle',
      'trap',
      'showCertificate',
      'catboostEvaluate',
      'evalMLMethod',
      'modelEvaluate',
      'partitionId',
      'partitionID',
      'mergeTreePartInfo',
      'hasThreadFuzzer',
      'initialQuery\\w*',
      'initial_query\\w*',
      'getSizeOfEnumType_unused',
      'connection_id',
      'connectionId',
      'url',
      'executable\\w*',
    ].join('|') +
    ')$',
  'i',
);

/** Internal functions the parser itself writes for ordinary syntax (`x::T`, `CASE x WHEN`). */
const PARSER_WRITES = new Set(['_CAST', 'caseWithExpression']);

interface Row {
  name: string;
  is_aggregate: number;
  case_insensitive: number;
  alias_to: string;
  categories: string;
}

export function allowed(rows: Row[]): Array<[string, string]> {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const refused = (r: Row | undefined): boolean => !r || (!PARSER_WRITES.has(r.name) && (REFUSED.test(r.name) || REFUSED_CATEGORIES.has(r.categories) || r.name.startsWith('__')));
  return rows
    .filter((r) => !refused(r) && !(r.alias_to && refused(byName.get(r.alias_to) ?? { ...r, name: r.alias_to })))
    .map((r): [string, string] => [r.name, `${r.is_aggregate ? 'a' : ''}${r.case_insensitive ? 'i' : ''}`])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

async function main(): Promise<void> {
  const { Session } = await import('chdb');
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-functions-'));
  const s = new Session(dir);
  try {
    const version = s.query('SELECT version()', 'TSV').trim();
    const rows = s
      .query('SELECT name, is_aggregate, case_insensitive, alias_to, categories FROM system.functions ORDER BY name', 'JSONEachRow')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Row);
    const list = allowed(rows);
    const out = { engine: version, generatedBy: 'sqlapi/allowlist/generate.ts', total: rows.length, functions: list };
    writeFileSync(join(import.meta.dirname, 'functions.json'), `${JSON.stringify(out, null, 0).replace(/\],\[/g, '],\n[')}\n`);
    process.stdout.write(`${list.length} of ${rows.length} functions allowed (engine ${version})\n`);
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) void main();
