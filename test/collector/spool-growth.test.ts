/**
 * Batches grow while the exporter is busy: past batchRows a segment is sealed only when no
 * batch is waiting; otherwise it keeps filling up to maxBatchRows (or batchBytes), and goes as
 * soon as the exporter frees up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, type SpoolOptions } from '../../collector/exporters/spool.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

function open(opts: Partial<SpoolOptions>): Spool {
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-spool-growth-'));
  const s = new Spool({ dir, maxBytes: 1 << 20, batchRows: 2, maxBatchRows: 5, batchBytes: 1 << 20, timeoutMs: 60_000, fsync: false, ...opts });
  cleanup.push(() => {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

const rows = (n: number) => Buffer.alloc(n * 10, 0x61);
const sealedRows = (s: Spool) => s.sealed().map((seg) => seg.rows);

describe('spool: batches grow while the exporter is busy', () => {
  it.each<[string, Partial<SpoolOptions>, number[], number[]]>([
    ['the first batch seals at batchRows (nothing waiting)', {}, [2], [2]],
    ['the next fills past batchRows up to maxBatchRows', {}, [2, 1, 1, 1, 1, 1], [2, 5]],
    ['one large append is one batch', {}, [2, 9], [2, 9]],
    ['batchBytes still bounds it', { batchBytes: 40 }, [2, 1, 1, 1, 1], [2, 4]],
    ['without maxBatchRows, batchRows is the bound', { maxBatchRows: undefined }, [2, 1, 1, 1], [2, 2]],
  ])('%s', (_name, opts, appends, expected) => {
    const s = open(opts);
    for (const n of appends) s.append(rows(n), n);
    expect(sealedRows(s)).toEqual(expected);
  });

  it('a segment past batchRows goes as soon as the exporter has removed the batch it was inserting', () => {
    const s = open({});
    s.append(rows(2), 2);
    s.append(rows(3), 3);
    expect(sealedRows(s)).toEqual([2]);
    s.remove(s.peek()!);
    expect(sealedRows(s)).toEqual([3]);
  });

  it('one below batchRows waits for its timeout, not for the exporter', () => {
    const s = open({ batchRows: 4 });
    s.append(rows(4), 4);
    s.append(rows(1), 1);
    s.remove(s.peek()!);
    expect(sealedRows(s)).toEqual([]);
    expect(s.rows).toBe(1);
  });
});
