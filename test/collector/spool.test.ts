/**
 * The durable spool, on a temp folder: appends, sealing by rows, bytes and time, the disk
 * limit, removal and rejection, and what a new process finds: sealed batches replayed oldest
 * first, an open segment cut back to its last committed append (a torn tail from a kill),
 * segments with nothing committed discarded, and retries of requests already spooled (by this
 * process or the one before it) not written twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, SpoolFullError, type SpoolOptions } from '../../collector/exporters/spool.js';

const dirs: string[] = [];
const spools: Spool[] = [];
afterEach(() => {
  for (const s of spools.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tracegate-spool-test-'));
  dirs.push(d);
  return d;
}

function open(dir: string, opts: Partial<SpoolOptions> = {}): Spool {
  const s = new Spool({ dir, maxBytes: 1 << 20, batchRows: 1000, batchBytes: 1 << 20, timeoutMs: 60_000, fsync: false, ...opts });
  spools.push(s);
  return s;
}

/** `rows` fake rows of `size` bytes each, tagged so contents can be told apart. */
const rowsOf = (tag: string, rows: number, size = 10) => Buffer.from(Array.from({ length: rows }, (_, i) => `${tag}${i}`.padEnd(size, '.').slice(0, size)).join(''));
const contents = (s: Spool) => s.sealed().map((seg) => readFileSync(seg.path).toString());
const files = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f !== 'rejected')
    .sort();

describe('spool: append and seal', () => {
  it('appends to one open segment and seals it on flush, rows and bytes counted', () => {
    const s = open(tempDir());
    s.append(rowsOf('a', 2), 2);
    s.append(rowsOf('b', 3), 3);
    expect([s.rows, s.bytes, s.pendingSegments, s.sealed().length]).toEqual([5, 50, 1, 0]);
    s.flush();
    const [seg] = s.sealed();
    expect(seg).toMatchObject({ rows: 5, bytes: 50 });
    expect(seg.token).toMatch(/^\d{16}-[0-9a-f]{8}$/);
    expect(seg.path.endsWith(`${seg.token}.5.rb`)).toBe(true);
    expect(contents(s)).toEqual([rowsOf('a', 2).toString() + rowsOf('b', 3).toString()]);
  });

  it.each<[string, Partial<SpoolOptions>, number[], number[]]>([
    ['at batchRows', { batchRows: 4 }, [2, 2, 2, 1], [4]],
    ['at batchBytes', { batchBytes: 35 }, [2, 2, 1, 3], [4, 4]],
    ['one large append is one batch', { batchRows: 4 }, [9], [9]],
  ])('seals %s', (_n, opts, appends, sealedRows) => {
    const s = open(tempDir(), opts);
    appends.forEach((n, i) => {
      s.append(rowsOf(`r${i}-`, n), n);
    });
    expect(s.sealed().map((seg) => seg.rows)).toEqual(sealedRows);
    expect(s.rows).toBe(appends.reduce((a, b) => a + b, 0));
  });

  it('seals after timeoutMs when no batch is waiting', async () => {
    const s = open(tempDir(), { timeoutMs: 5 });
    s.append(rowsOf('t', 1), 1);
    await s.waitReady();
    expect(s.sealed().map((seg) => seg.rows)).toEqual([1]);
  });

  it('refuses an append past maxBytes (full) until a batch is removed', () => {
    const s = open(tempDir(), { maxBytes: 45, batchRows: 2 });
    s.append(rowsOf('a', 2), 2);
    s.append(rowsOf('b', 2), 2);
    expect(() => s.append(rowsOf('c', 1), 1)).toThrow(SpoolFullError);
    expect(s.full).toBe(true);
    expect([s.rows, s.bytes]).toEqual([4, 40]);
    s.remove(s.peek()!);
    expect(s.full).toBe(false);
    s.append(rowsOf('c', 1), 1);
    expect([s.rows, s.bytes]).toEqual([3, 30]);
  });

  it('remove deletes the batch file; reject moves it to rejected/', () => {
    const dir = tempDir();
    const s = open(dir, { batchRows: 1 });
    s.append(rowsOf('a', 1), 1);
    s.append(rowsOf('b', 1), 1);
    const [first, second] = s.sealed();
    s.remove(first);
    expect(existsSync(first.path)).toBe(false);
    s.reject(second);
    expect(readdirSync(join(dir, 'rejected'))).toEqual([`${second.token}.1.rb`]);
    expect([s.rows, s.bytes, s.sealed().length, files(dir)]).toEqual([0, 0, 0, []]);
  });

  it('a closed spool takes no more appends', () => {
    const s = open(tempDir());
    s.close();
    expect(() => s.append(rowsOf('x', 1), 1)).toThrow(/closed/);
  });
});

describe('spool: what the next process finds', () => {
  it('replays sealed batches oldest first, the same tokens and bytes; new batches come after them', () => {
    const dir = tempDir();
    const first = open(dir, { batchRows: 2 });
    for (const tag of ['a', 'b', 'c']) first.append(rowsOf(tag, 2), 2);
    first.append(rowsOf('d', 1), 1); // still open: sealed by close
    const before = first.sealed().map((seg) => seg.token);
    first.close();

    const next = open(dir, { batchRows: 2 });
    expect([next.rows, next.bytes]).toEqual([7, 70]);
    expect(
      next
        .sealed()
        .map((seg) => seg.token)
        .slice(0, 3),
    ).toEqual(before);
    expect(next.sealed().map((seg) => seg.rows)).toEqual([2, 2, 2, 1]);
    expect(contents(next)).toEqual(['a', 'b', 'c'].map((t) => rowsOf(t, 2).toString()).concat(rowsOf('d', 1).toString()));
    next.append(rowsOf('e', 2), 2);
    const tokens = next.sealed().map((seg) => seg.token);
    expect(tokens).toEqual([...tokens].sort());
    expect(contents(next).at(-1)).toBe(rowsOf('e', 2).toString());
  });

  it('an open segment left by a kill is cut back to its last committed append (the torn tail dropped)', () => {
    const live = tempDir();
    const s = open(live);
    s.append(rowsOf('a', 2), 2);
    s.append(rowsOf('b', 1), 1);
    // what a SIGKILL leaves: the open files as they are, plus half of an append never acknowledged
    const crashed = tempDir();
    cpSync(live, crashed, { recursive: true });
    const [openFile] = files(crashed).filter((f) => f.endsWith('.open'));
    appendFileSync(join(crashed, openFile), Buffer.from('half-a-row'));

    const next = open(crashed);
    expect([next.rows, next.bytes]).toEqual([3, 30]);
    expect(contents(next)).toEqual([rowsOf('a', 2).toString() + rowsOf('b', 1).toString()]);
    const [seg] = next.sealed();
    expect(files(crashed)).toEqual([`${seg.token}.3.rb`, `${seg.token}.log`]);
  });

  it('deletes a commit log whose batch is gone (stopped between deleting the two)', () => {
    const dir = tempDir();
    const s = open(dir, { batchRows: 1 });
    s.append(rowsOf('a', 1), 1);
    s.append(rowsOf('b', 1), 1);
    const [gone, kept] = s.sealed();
    rmSync(gone.path);
    s.close();
    open(dir);
    expect(files(dir)).toEqual([`${kept.token}.1.rb`, `${kept.token}.log`]);
  });

  it.each<[string, (dir: string, base: string) => void]>([
    ['no commit log (killed before the first commit)', (dir, base) => rmSync(join(dir, `${base}.log`))],
    ['only a torn commit record', (dir, base) => writeFileSync(join(dir, `${base}.log`), readFileSync(join(dir, `${base}.log`)).subarray(0, 31))],
    ['a commit record of zero rows', (dir, base) => writeFileSync(join(dir, `${base}.log`), Buffer.alloc(32))],
    ['a data file shorter than its committed length', (dir, base) => truncateSync(join(dir, `${base}.open`), 5)],
  ])('an open segment with %s is discarded', (_n, damage) => {
    const live = tempDir();
    open(live).append(rowsOf('a', 2), 2);
    const crashed = tempDir();
    cpSync(live, crashed, { recursive: true });
    const base = files(crashed)
      .find((f) => f.endsWith('.open'))!
      .replace(/\.open$/, '');
    damage(crashed, base);
    const next = open(crashed);
    expect([next.rows, next.bytes, next.sealed().length, files(crashed)]).toEqual([0, 0, 0, []]);
  });
});

describe('spool: a request spooled twice is written once', () => {
  const digest = (n: number) => Buffer.alloc(16, n).toString('base64');

  it('a retry within the process is acknowledged without an append', () => {
    const dir = tempDir();
    const s = open(dir, { batchRows: 2 });
    expect(s.append(rowsOf('a', 1), 1, digest(1))).toBe(true);
    expect(s.append(rowsOf('a', 1), 1, digest(1))).toBe(false);
    expect(s.append(rowsOf('b', 1), 1, digest(2))).toBe(true);
    // exported: its files go, the process still knows the request
    s.remove(s.peek()!);
    expect(files(dir)).toEqual([]);
    expect(s.append(rowsOf('a', 1), 1, digest(1))).toBe(false);
    expect(s.append(rowsOf('c', 1), 1)).toBe(true);
    expect(s.append(rowsOf('c', 1), 1)).toBe(true);
  });

  it.each<[string, (live: Spool) => void]>([
    ['in the open segment (killed after the spool write, before the answer)', () => {}],
    ['in a batch sealed by that append', (live) => live.flush()],
  ])('the next process knows a request committed %s', (_n, before) => {
    const live = tempDir();
    const s = open(live);
    s.append(rowsOf('a', 2), 2, digest(1));
    s.append(rowsOf('b', 1), 1, digest(2));
    before(s);
    const crashed = tempDir();
    cpSync(live, crashed, { recursive: true });
    const next = open(crashed);
    expect(next.append(rowsOf('b', 1), 1, digest(2))).toBe(false);
    expect(next.append(rowsOf('a', 2), 2, digest(1))).toBe(false);
    expect(next.append(rowsOf('c', 1), 1, digest(3))).toBe(true);
    next.flush();
    expect(next.rows).toBe(4);
  });

  it('a request whose commit record was torn by the kill is not known: its retry is stored', () => {
    const live = tempDir();
    const s = open(live);
    s.append(rowsOf('a', 2), 2, digest(1));
    s.append(rowsOf('b', 1), 1, digest(2));
    const crashed = tempDir();
    cpSync(live, crashed, { recursive: true });
    const log = files(crashed).find((f) => f.endsWith('.log'))!;
    writeFileSync(join(crashed, log), readFileSync(join(crashed, log)).subarray(0, 32 + 20));
    const next = open(crashed);
    expect([next.rows, contents(next)]).toEqual([2, [rowsOf('a', 2).toString()]]);
    expect(next.append(rowsOf('a', 2), 2, digest(1))).toBe(false);
    expect(next.append(rowsOf('b', 1), 1, digest(2))).toBe(true);
  });
});
