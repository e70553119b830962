/**
 * The pipeline on the receiving thread and on worker threads gives the same answer and the same
 * spool bytes for every request; a body that does not decode is a 400 either way; past the
 * queue bound a request is refused with a retryable answer; counters add up over the workers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CollectorError } from '../../collector/errors.js';
import { Spool } from '../../collector/exporters/spool.js';
import type { OtlpEncoding } from '../../collector/ingest.js';
import { buildPipeline, type Pipeline } from '../../collector/pipeline.js';
import { ProcessorConfigSchema } from '../../collector/processors/index.js';
import { encodeRequest, ids } from './otlp-encode.js';

const MiB = 1024 * 1024;
const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

function setup(workers: number, maxQueueBytes = 64 * MiB): { pipeline: Pipeline; spool: Spool } {
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-pipeline-'));
  const spool = new Spool({ dir, maxBytes: 64 * MiB, batchRows: 1_000_000, batchBytes: 64 * MiB, timeoutMs: 60_000, fsync: false });
  const pipeline = buildPipeline(ProcessorConfigSchema.parse({}), { workers, maxQueueBytes, retryAfterSeconds: 3 }, { spool, processor: { env: {} } });
  cleanup.push(async () => {
    await pipeline.close();
    spool.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { pipeline, spool };
}

const llm = { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-mini', 'llm.token_count.prompt': '100', 'llm.token_count.completion': '20', 'api.key': 'sk-proj-abcdefghijklmnopqrstuvwxyz' };
const good = () =>
  encodeRequest('svc', [
    { ...ids(), name: 'a', start: 1_000n, end: 2_000n, attributes: llm },
    { ...ids(), name: 'b', start: 1_000n, end: 3_000n },
  ]);
const partial = () =>
  encodeRequest('svc', [
    { ...ids(), name: 'ok', start: 1_000n },
    { traceId: Buffer.alloc(16), spanId: Buffer.alloc(8, 1), name: 'zero trace id' },
  ]);
const json = () =>
  Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'j', startTimeUnixNano: '5', endTimeUnixNano: '9' }] }] }] }));

const CASES: Array<[name: string, body: () => Buffer, encoding: OtlpEncoding, expected: object]> = [
  ['two spans', good, 'protobuf', { spooled: true, duplicate: false, spans: 2, rejected: 0, message: '' }],
  ['one span rejected for its ids', partial, 'protobuf', { spooled: true, duplicate: false, spans: 1, rejected: 1 }],
  ['OTLP/JSON', json, 'json', { spooled: true, duplicate: false, spans: 1, rejected: 0 }],
];

describe('pipeline: inline and on workers', () => {
  const inline = setup(0);
  const pooled = setup(2);

  it.each(CASES)('%s: the same outcome and the same spool bytes', async (_name, body, encoding, expected) => {
    await pooled.pipeline.ready();
    // The same bytes to each pipeline (ids included): the two must write identical rows.
    const b = body();
    const [a, w] = [await inline.pipeline.accept(Buffer.from(b), encoding), await pooled.pipeline.accept(Buffer.from(b), encoding)];
    expect(a).toMatchObject(expected);
    expect(w).toEqual(a);
    inline.spool.flush();
    pooled.spool.flush();
    const last = (s: Spool) => readFileSync(s.sealed().at(-1)!.path);
    expect(last(pooled.spool).equals(last(inline.spool))).toBe(true);
  });

  it.each<[string, Buffer, OtlpEncoding, RegExp]>([
    ['garbage protobuf', Buffer.from([0x0a, 0xff, 0xff, 0xff]), 'protobuf', /not a valid OTLP protobuf/],
    ['invalid JSON', Buffer.from('{"resourceSpans": ['), 'json', /not valid JSON/],
  ])('%s is a 400 on both', async (_name, body, encoding, message) => {
    for (const p of [inline.pipeline, pooled.pipeline]) {
      const err = await p.accept(Buffer.from(body), encoding).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CollectorError);
      expect(err).toMatchObject({ code: 'invalid_request', httpStatus: 400 });
      expect((err as Error).message).toMatch(message);
    }
  });

  it('the processor counters are summed over the workers', async () => {
    const before = (pooled.pipeline.counters() as { spans: number }).spans;
    await Promise.all(Array.from({ length: 6 }, () => pooled.pipeline.accept(good(), 'protobuf')));
    expect((pooled.pipeline.counters() as { spans: number }).spans).toBe(before + 12);
    expect((pooled.pipeline.counters() as { secretsScrubbed: number }).secretsScrubbed).toBeGreaterThan(0);
  });
});

describe('pipeline: a retried request', () => {
  it.each([0, 2])('with %i workers: the same spans again are acknowledged alike and not spooled again', async (workers) => {
    const { pipeline, spool } = setup(workers);
    await pipeline.ready();
    for (const body of [good, partial]) {
      const b = body();
      const first = await pipeline.accept(Buffer.from(b), 'protobuf');
      const rows = spool.rows;
      const again = await pipeline.accept(Buffer.from(b), 'protobuf');
      expect(again).toEqual({ ...first, duplicate: true });
      expect(spool.rows).toBe(rows);
    }
    // other spans of the same shape are a new request
    expect(await pipeline.accept(good(), 'protobuf')).toMatchObject({ duplicate: false, spans: 2 });
  });

  it('the same spans in OTLP/JSON after protobuf are the same request', async () => {
    const { pipeline, spool } = setup(0);
    const traceId = Buffer.alloc(16, 0xab);
    const spanId = Buffer.alloc(8, 0xcd);
    await pipeline.accept(encodeRequest('svc', [{ traceId, spanId, name: 'j', start: 5n, end: 9n }]), 'protobuf');
    expect(await pipeline.accept(json(), 'json')).toMatchObject({ duplicate: true, spans: 1 });
    expect(spool.rows).toBe(1);
  });
});

describe('pipeline: bounded queue', () => {
  it('refuses a request past maxQueueBytes with a retryable 429 / RESOURCE_EXHAUSTED, and takes the next once it drains', async () => {
    const { pipeline } = setup(1, MiB);
    await pipeline.ready();
    const big = () =>
      encodeRequest(
        'svc',
        Array.from({ length: 40 }, (_, i) => ({ ...ids(), name: `s${i}`, attributes: { pad: 'x'.repeat(20_000) } })),
      );
    const first = pipeline.accept(big(), 'protobuf');
    const refused = await pipeline.accept(big(), 'protobuf').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'busy', httpStatus: 429, grpcCode: 8, retryAfterSeconds: 3 });
    expect(await first).toMatchObject({ spooled: true, spans: 40 });
    expect(await pipeline.accept(big(), 'protobuf')).toMatchObject({ spooled: true, spans: 40 });
  });
});
