/**
 * The durable spool: every accepted request is appended to an open segment file before the
 * receiver answers, so a span that was acknowledged survives ClickHouse outages, restarts and
 * `kill -9`. A segment is sealed (renamed) once it holds a batch, by size or after the batch
 * timeout; sealed segments are exported oldest first and deleted once ClickHouse has them.
 *
 *   <seq>-<rand>.open  rows being appended (RowBinary)
 *   <seq>-<rand>.<rows>.rb   a sealed batch; `<seq>-<rand>` is its insert deduplication token
 *   <seq>-<rand>.log   the segment's commit log, one 32-byte record per append written after its
 *                      rows: committed length, row count, the request's digest. A torn tail left
 *                      by a kill is cut off on recovery (that request was never answered); the
 *                      digests let the next process know a retry of a request it already holds.
 *                      Kept until the batch is exported.
 *   rejected/          batches ClickHouse refused as malformed (counted as dropped)
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RecentRequests } from './recent.js';

export class SpoolFullError extends Error {
  constructor(readonly limitBytes: number) {
    super(`the spool reached its disk limit of ${limitBytes} bytes`);
  }
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  /** Seal a segment once it holds this many spans and no batch is waiting for the exporter. */
  batchRows: number;
  /**
   * While a batch is waiting or being inserted, keep filling up to this many spans (default:
   * batchRows): under load batches grow with insert time, so ClickHouse gets fewer, larger
   * inserts (fewer parts to merge) instead of falling behind on small ones.
   */
  maxBatchRows?: number;
  /** Seal at this many bytes in any case. */
  batchBytes: number;
  /** …or this long after its first append, when no sealed batch is waiting. */
  timeoutMs: number;
  /** fsync each append before answering (survives power loss, not only process death). */
  fsync: boolean;
}

export interface Segment {
  /** Insert deduplication token: the same on every replay of this batch. */
  readonly token: string;
  readonly path: string;
  readonly rows: number;
  readonly bytes: number;
}

interface OpenSegment {
  base: string;
  fd: number;
  logFd: number;
  appends: number;
  rows: number;
  bytes: number;
  timer?: NodeJS.Timeout;
}

/** A request digest: 16 bytes, base64 (see `requestDigest` in pipeline.ts). */
const DIGEST_BYTES = 16;
/** A commit record: committed bytes (u64 LE), rows (u64 LE), the request digest. */
const RECORD = 16 + DIGEST_BYTES;

const SEALED = /^(\d{16}-[0-9a-f]{8})\.(\d+)\.rb$/;
/** A sealed batch found at start: its file name, token and rows (both in the name), and its commit log. */
type Recovered = { name: string; token: string; rows: number; log: Buffer[] };
const OPEN = /^(\d{16}-[0-9a-f]{8})\.open$/;
const LOG = /^(\d{16}-[0-9a-f]{8})\.log$/;

export class Spool {
  private readonly ready: Segment[] = [];
  private open?: OpenSegment;
  private seq: number;
  private waiters: Array<() => void> = [];
  private closed = false;
  private readonly recent = new RecentRequests();
  /** The commit record being written (appends are synchronous, so one buffer serves them all). */
  private readonly record = Buffer.alloc(RECORD);
  /** Bytes on disk not yet exported (sealed and open). */
  bytes = 0;
  /** Spans on disk not yet exported. */
  rows = 0;
  /** True from a refused append until space is freed. */
  full = false;

  constructor(private readonly opts: SpoolOptions) {
    mkdirSync(join(opts.dir, 'rejected'), { recursive: true });
    this.seq = Date.now() * 1000;
    this.recover();
  }

  /**
   * Appends one request's rows; throws SpoolFullError past the disk limit. With a digest, a
   * request already spooled lately (here or by the process before) is not written again:
   * returns false.
   */
  append(data: Buffer, rows: number, digest?: string): boolean {
    if (this.closed) throw new Error('the spool is closed');
    if (digest !== undefined && this.recent.has(digest)) return false;
    if (this.bytes + data.length > this.opts.maxBytes) {
      this.full = true;
      throw new SpoolFullError(this.opts.maxBytes);
    }
    const seg = (this.open ??= this.create());
    writeAll(seg.fd, data);
    if (this.opts.fsync) fsyncSync(seg.fd);
    seg.rows += rows;
    seg.bytes += data.length;
    // The commit: one small positional write, whole or absent after a kill.
    const record = this.record;
    record.writeBigUInt64LE(BigInt(seg.bytes), 0);
    record.writeBigUInt64LE(BigInt(seg.rows), 8);
    if (digest !== undefined) record.write(digest, 16, DIGEST_BYTES, 'base64');
    else record.fill(0, 16);
    writeSync(seg.logFd, record, 0, RECORD, RECORD * seg.appends++);
    if (this.opts.fsync) fdatasyncSync(seg.logFd);
    if (digest !== undefined) this.recent.add(digest);
    this.bytes += data.length;
    this.rows += rows;
    if (this.batchFull(seg)) this.seal();
    return true;
  }

  private batchFull(seg: OpenSegment): boolean {
    if (seg.bytes >= this.opts.batchBytes || seg.rows >= (this.opts.maxBatchRows ?? this.opts.batchRows)) return true;
    return seg.rows >= this.opts.batchRows && this.ready.length === 0;
  }

  /** The oldest sealed batch, left in place until `remove`. */
  peek(): Segment | undefined {
    return this.ready[0];
  }

  /** The sealed batches waiting, oldest first. */
  sealed(): readonly Segment[] {
    return [...this.ready];
  }

  /** Resolves when a sealed batch is waiting (or the spool closes). */
  waitReady(): Promise<void> {
    if (this.ready.length > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The batch is in ClickHouse: delete it. */
  remove(seg: Segment): void {
    this.drop(seg);
    unlinkQuiet(seg.path);
    unlinkQuiet(this.logPath(seg.token));
  }

  /** ClickHouse refused the batch as malformed: keep it aside for inspection, out of the queue. */
  reject(seg: Segment): void {
    this.drop(seg);
    try {
      renameSync(seg.path, join(this.opts.dir, 'rejected', `${seg.token}.${seg.rows}.rb`));
    } catch {
      unlinkQuiet(seg.path);
    }
    unlinkQuiet(this.logPath(seg.token));
  }

  /** Seals the open segment now (shutdown, tests). */
  flush(): void {
    this.seal();
  }

  /** Seals what is open and stops accepting appends; the files stay for the next start. */
  close(): void {
    if (this.closed) return;
    this.seal();
    this.closed = true;
    this.wake();
  }

  get pendingSegments(): number {
    return this.ready.length + (this.open ? 1 : 0);
  }

  private drop(seg: Segment): void {
    const i = this.ready.indexOf(seg);
    if (i < 0) return;
    this.ready.splice(i, 1);
    this.bytes -= seg.bytes;
    this.rows -= seg.rows;
    this.full = false;
    // The exporter is free again: an open segment past its timeout or its size goes now.
    if (this.ready.length === 0 && this.open && (this.open.timer === undefined || this.open.rows >= this.opts.batchRows)) this.seal();
  }

  private create(): OpenSegment {
    this.seq = Math.max(this.seq + 1, Date.now() * 1000);
    const base = `${String(this.seq).padStart(16, '0')}-${randomBytes(4).toString('hex')}`;
    const seg: OpenSegment = {
      base,
      fd: openSync(join(this.opts.dir, `${base}.open`), 'a'),
      logFd: openSync(this.logPath(base), 'w'),
      appends: 0,
      rows: 0,
      bytes: 0,
    };
    seg.timer = setTimeout(() => this.onTimeout(seg), this.opts.timeoutMs);
    seg.timer.unref();
    return seg;
  }

  private onTimeout(seg: OpenSegment): void {
    seg.timer = undefined;
    if (this.open !== seg) return;
    // While a batch is being exported, keep filling this one: batches grow to match insert time.
    if (this.ready.length === 0) this.seal();
  }

  private seal(): void {
    const seg = this.open;
    if (!seg) return;
    this.open = undefined;
    if (seg.timer) clearTimeout(seg.timer);
    if (this.opts.fsync) fsyncSync(seg.fd);
    closeSync(seg.fd);
    closeSync(seg.logFd);
    const openPath = join(this.opts.dir, `${seg.base}.open`);
    if (seg.rows === 0) {
      unlinkQuiet(openPath);
      unlinkQuiet(this.logPath(seg.base));
    } else {
      const path = join(this.opts.dir, `${seg.base}.${seg.rows}.rb`);
      renameSync(openPath, path);
      this.ready.push({ token: seg.base, path, rows: seg.rows, bytes: seg.bytes });
    }
    this.wake();
  }

  private logPath(base: string): string {
    return join(this.opts.dir, `${base}.log`);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  /**
   * Seals what a previous process left open (cut to its committed length), queues every batch
   * oldest first and remembers the digests of their requests; one listing of the folder.
   */
  private recover(): void {
    const names = readdirSync(this.opts.dir).sort();
    const batches: Recovered[] = [];
    for (const name of names) {
      const open = OPEN.exec(name);
      if (open) {
        const recovered = this.recoverOpen(open[1]);
        if (recovered) batches.push(recovered);
      } else {
        const sealed = SEALED.exec(name);
        if (sealed) batches.push({ name, token: sealed[1], rows: Number(sealed[2]), log: this.readLog(sealed[1]) });
      }
    }
    batches.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    for (const { name, token, rows, log } of batches) {
      const path = join(this.opts.dir, name);
      const seg = { token, path, rows, bytes: statSync(path).size };
      this.ready.push(seg);
      this.bytes += seg.bytes;
      this.rows += seg.rows;
      this.seq = Math.max(this.seq, Number(token.slice(0, 16)));
      for (const record of log) this.rememberDigest(record);
    }
    // A log whose batch is gone: the process stopped between deleting the batch and its log.
    const kept = new Set(this.ready.map((seg) => seg.token));
    for (const name of names) {
      const m = LOG.exec(name);
      if (m && !kept.has(m[1])) unlinkQuiet(join(this.opts.dir, name));
    }
  }

  /** Cuts an open segment to its last commit and seals it: its sealed name and log, or nothing. */
  private recoverOpen(base: string): Recovered | undefined {
    const openPath = join(this.opts.dir, `${base}.open`);
    const log = this.readLog(base);
    const last = log.at(-1);
    const bytes = last ? Number(last.readBigUInt64LE(0)) : 0;
    const rows = last ? Number(last.readBigUInt64LE(8)) : 0;
    if (rows === 0 || bytes === 0 || statSync(openPath).size < bytes) {
      // Nothing committed, or the file lost data the log says it had (not by a process kill).
      unlinkQuiet(openPath);
      unlinkQuiet(this.logPath(base));
      return undefined;
    }
    const fd = openSync(openPath, 'r+');
    ftruncateSync(fd, bytes);
    closeSync(fd);
    const name = `${base}.${rows}.rb`;
    renameSync(openPath, join(this.opts.dir, name));
    return { name, token: base, rows, log };
  }

  /** A segment's whole commit records (a torn last one is not a commit). */
  private readLog(base: string): Buffer[] {
    const path = this.logPath(base);
    if (!existsSync(path)) return [];
    const log = readFileSync(path);
    return Array.from({ length: Math.floor(log.length / RECORD) }, (_, i) => log.subarray(i * RECORD, (i + 1) * RECORD));
  }

  private rememberDigest(record: Buffer): void {
    const digest = record.subarray(16);
    if (digest.some((b) => b !== 0)) this.recent.add(digest.toString('base64'));
  }
}

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
