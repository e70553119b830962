import { z } from 'zod';

/** The read-only ClickHouse HTTP interface over the embedded store. */
export const SqlInterfaceConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port (tests). */
    port: z.number().int().min(0).max(65535).default(8123),
    /** The user a password is checked for; without a password anyone may read. */
    user: z.string().min(1).default('default'),
    password: z.string().min(1).optional(),
    /** Largest query text (URL query plus body, after decompression). */
    maxQueryBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Seconds a query may run (max_execution_time); a client may lower it, never raise it. */
    maxExecutionTime: z.number().int().min(1).max(3600).default(30),
    /** Bytes of memory a query may use (max_memory_usage). */
    maxMemoryUsage: z
      .number()
      .int()
      .min(16 * 1024 * 1024)
      .default(1024 * 1024 * 1024),
    /**
     * Rows and bytes of a result (max_result_rows / max_result_bytes), past them the query fails.
     * Results are streamed (stream-pool.ts), so memory does not grow with these.
     */
    maxResultRows: z.number().int().min(1).default(1_000_000),
    maxResultBytes: z
      .number()
      .int()
      .min(1024)
      .default(128 * 1024 * 1024),
    /**
     * Queries at once; one more is refused with TOO_MANY_SIMULTANEOUS_QUERIES (202, HTTP 503).
     * On the embedded engine each runs on a query thread of its own (kept for the process's life).
     */
    maxConcurrentQueries: z.number().int().min(1).max(64).default(2),
    /** X-ClickHouse-Server-Display-Name. */
    displayName: z.string().min(1).default('tracegate'),
  })
  .strict();

export type SqlInterfaceConfig = z.infer<typeof SqlInterfaceConfigSchema>;
export type SqlInterfaceConfigInput = z.input<typeof SqlInterfaceConfigSchema>;

/** Validates once, reporting every problem with its path. */
export function parseSqlInterfaceConfig(input: unknown): Readonly<SqlInterfaceConfig> {
  const result = SqlInterfaceConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => `sqlInterface.${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid SQL interface configuration:\n  ${lines.join('\n  ')}`);
  }
  return Object.freeze(result.data);
}

/** The limits a deployment sets (flags of `tracegate start`); a client may only lower them. */
export type SqlLimitsInput = Pick<SqlInterfaceConfigInput, 'maxExecutionTime' | 'maxMemoryUsage' | 'maxResultRows' | 'maxResultBytes' | 'maxConcurrentQueries'>;

/** `--sql-max-*` flag names and the limit each sets. */
export const SQL_LIMIT_FLAGS = {
  'sql-max-execution-time': 'maxExecutionTime',
  'sql-max-memory-usage': 'maxMemoryUsage',
  'sql-max-result-rows': 'maxResultRows',
  'sql-max-result-bytes': 'maxResultBytes',
  'sql-max-concurrent-queries': 'maxConcurrentQueries',
} as const satisfies Record<string, keyof SqlLimitsInput>;

/**
 * The limits given by flags (strings), each checked against its field of the schema here, so an
 * out-of-range value is refused naming its flag before anything starts.
 */
export function sqlLimitsFromFlags(values: Record<string, unknown>): SqlLimitsInput {
  const out: SqlLimitsInput = {};
  for (const [flag, key] of Object.entries(SQL_LIMIT_FLAGS)) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag} must be a positive whole number, got "${raw}"`);
    const checked = SqlInterfaceConfigSchema.shape[key].safeParse(n);
    if (!checked.success) throw new Error(`--${flag} is out of range (${checked.error.issues[0].message.toLowerCase()}), got "${raw}"`);
    out[key] = n;
  }
  return out;
}
