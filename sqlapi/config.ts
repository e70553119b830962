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
    maxQueryBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
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
