/**
 * Writes one sealed spool batch into `otel_traces`. The embedded engine reads the batch file
 * itself (`INSERT … SELECT … FROM file(path, RowBinary)`: no copy through JavaScript, and the
 * engine's parallel reader, about three times the rate of an inline insert body); a server gets
 * the file streamed as the body of `INSERT … FORMAT RowBinary`. Either way the insert carries
 * the batch's deduplication token in its own SETTINGS clause, so a replay is not stored twice
 * and nothing is left on the embedded session.
 */
import { createReadStream } from 'node:fs';
import type { Store } from '../../common/store.js';
import { columnList, structure } from './rowbinary.js';
import type { Segment } from './spool.js';

export interface TraceSink {
  /** Resolves once ClickHouse holds the batch; rejects with the store's error otherwise. */
  write(seg: Segment): Promise<void>;
}

const sqlString = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function clickhouseSink(store: Store, table = 'otel_traces'): TraceSink {
  const target = `${store.database}.${table} ${columnList()}`;
  const settings = (seg: Segment) => `SETTINGS insert_deduplication_token = ${sqlString(`tracegate-${seg.token}`)}`;
  if (store.target.kind === 'embedded') {
    const struct = sqlString(structure());
    return {
      async write(seg) {
        await store.client.command({
          query: `INSERT INTO ${target} ${settings(seg)} SELECT * FROM file(${sqlString(seg.path)}, 'RowBinary', ${struct})`,
        });
      },
    };
  }
  return {
    async write(seg) {
      const rs = await store.client.exec({ query: `INSERT INTO ${target} ${settings(seg)} FORMAT RowBinary`, values: createReadStream(seg.path) });
      rs.stream.resume();
    },
  };
}

/** ClickHouse errors that retrying cannot fix: the batch itself is malformed. */
const PERMANENT = /^(CANNOT_PARSE|CANNOT_READ|ATTEMPT_TO_READ_AFTER_EOF|TYPE_MISMATCH|INCORRECT_DATA|TOO_LARGE_STRING_SIZE|TOO_LARGE_ARRAY_SIZE|INCORRECT_NUMBER_OF_COLUMNS|UNKNOWN_FORMAT_VERSION)/;

/** Retryable unless the engine says the data cannot be read: outages, missing tables, memory. */
export function isPermanentInsertError(err: unknown): boolean {
  const type = (err as { type?: unknown })?.type;
  return typeof type === 'string' && PERMANENT.test(type);
}
