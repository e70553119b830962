import { openStore, resolveStoreTarget, describeStore } from '../../common/store.js';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate, renderMigration, type SchemaSettings } from '../../schemas/migrate.js';
import { parse, STORE_OPTIONS, storeFlags, UsageError } from '../args.js';

export async function runMigrate(args: string[]): Promise<number> {
  const { values } = parse(args, {
    ...STORE_OPTIONS,
    cluster: { type: 'string' },
    'raw-ttl-days': { type: 'string' },
    'rollup-ttl-days': { type: 'string' },
    print: { type: 'boolean' },
  });
  const target = resolveStoreTarget(storeFlags(values));
  const settings: SchemaSettings = {
    database: target.database,
    rawTtlDays: days(values['raw-ttl-days'] ?? process.env.TRACEGATE_RAW_TTL_DAYS, DEFAULT_SCHEMA_SETTINGS.rawTtlDays, '--raw-ttl-days'),
    rollupTtlDays: days(values['rollup-ttl-days'] ?? process.env.TRACEGATE_ROLLUP_TTL_DAYS, DEFAULT_SCHEMA_SETTINGS.rollupTtlDays, '--rollup-ttl-days'),
    cluster: values.cluster,
  };
  if (values.print) {
    for (const m of loadMigrations()) {
      process.stdout.write(`-- ${m.file}\n${renderMigration(m, settings).join(';\n\n')};\n\n`);
    }
    return 0;
  }
  const store = await openStore(target);
  try {
    const result = await migrate(store.client, settings);
    process.stdout.write(
      `${describeStore(target)}: applied ${result.applied.length} migration(s)` +
        `${result.applied.length ? ` (${result.applied.map((m) => m.file).join(', ')})` : ''}, ` +
        `${result.skipped.length} already applied${result.pricesLoaded ? '; model prices loaded' : ''}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

function days(raw: string | undefined, fallback: number, flag: string): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number of days (0 keeps data for ever), got "${raw}"`);
  return n;
}
