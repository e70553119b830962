/**
 * Which stored spans an evaluator scores next, read from the store: spans of its target kind in
 * a time window, stored at least `settleMs` ago (so count-once has decided which of an
 * application's and the gateway's span of one call is the call), matching its filters, picked
 * by the sampling hash, not yet scored by this evaluator version, and never a judge call
 * itself. Every value goes through query parameters.
 */
import { createHash } from 'node:crypto';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import type { EvaluatorConfig, TargetKind } from '../../schemas/evaluator.js';
import { globToRegExp } from '../../schemas/prices.js';
import type { StoredSpan } from './subject.js';

const TWO_64 = 1n << 64n;

/** The sampling threshold: a span is scored when the first 8 bytes of sha256(`seed:spanId`), little-endian, are below it. */
export function samplingThreshold(rate: number): bigint {
  if (rate >= 1) return TWO_64;
  if (rate <= 0) return 0n;
  return BigInt(Math.floor(rate * 2 ** 53)) << 11n;
}

/** Whether a span is in an evaluator's sample: the same answer in every replica and in SQL (below). */
export function sampled(spanId: string, rate: number, seed = ''): boolean {
  const h = createHash('sha256').update(`${seed}:${spanId}`).digest().readBigUInt64LE(0);
  return h < samplingThreshold(rate);
}

export interface Window {
  /** Epoch ms, inclusive. */
  since: number;
  /** Epoch ms, exclusive. */
  until: number;
  /** Spans stored after this (epoch ms) are not looked at yet. */
  storedBefore: number;
}

export interface Selection {
  /** Also select spans whose earlier evaluation by this version ended in an error (a re-run). */
  retryErrors?: boolean;
  /** Span ids evaluated here whose results may not be stored yet. */
  exclude?: readonly string[];
  /** Traces of judge calls made here whose EVALUATOR spans may not be stored yet. */
  excludeTraces?: readonly string[];
}

function globsRegex(globs: readonly string[] | undefined): string | undefined {
  if (!globs || globs.length === 0) return undefined;
  return globs.map((g) => `(?:${globToRegExp(g).source})`).join('|');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** The WHERE of an evaluator's candidates over `llm_spans AS s`, and its parameters. */
function candidateWhere(db: string, ev: EvaluatorConfig, w: Window, sel: Selection): { where: string; params: Record<string, unknown> } {
  const t = ev.spec.target;
  const params: Record<string, unknown> = {
    kind: t.kind,
    since: seconds(w.since),
    until: seconds(w.until),
    stored: seconds(w.storedBefore),
    name: ev.name,
    version: ev.version,
    exclude: sel.exclude ?? [],
    judges: sel.excludeTraces ?? [],
  };
  const and: string[] = [
    's.span_kind = {kind:String}',
    's.timestamp >= fromUnixTimestamp64Milli(toInt64({since:Float64} * 1000))',
    's.timestamp < fromUnixTimestamp64Milli(toInt64({until:Float64} * 1000))',
    's.inserted_at < fromUnixTimestamp64Milli(toInt64({stored:Float64} * 1000))',
    // An application's span of a call the gateway also recorded is scored once, as the gateway's.
    "s.superseded_by = ''",
    "s.status_code != 'Error'",
    'NOT has({exclude:Array(String)}, s.span_id)',
    // Judge calls are never scored: a key with purpose evaluator marks them (below); without one
    // (authentication off), they are known by their traces, which are the evaluators' own.
    'NOT has({judges:Array(String)}, s.trace_id)',
    `s.trace_id NOT IN (SELECT judge_trace_id FROM ${db}.evaluator_runs
        WHERE judge_trace_id != '' AND timestamp >= fromUnixTimestamp64Milli(toInt64({since:Float64} * 1000)) - INTERVAL 1 HOUR)`,
    `(s.trace_id, s.span_id) NOT IN (SELECT trace_id, span_id FROM ${db}.evaluator_runs
        WHERE evaluator = {name:String} AND evaluator_version = {version:String}${sel.retryErrors ? " AND status != 'error'" : ''})`,
  ];
  const cols: [keyof typeof t, string][] = [
    ['services', 's.app_service_name'],
    ['routes', 's.route'],
    ['models', 's.model'],
    ['teams', 's.team'],
    ['keys', 's.key_name'],
  ];
  for (const [field, col] of cols) {
    const re = globsRegex(t[field] as string[] | undefined);
    if (!re) continue;
    params[`re_${field}`] = re;
    and.push(`match(lower(${col}), {re_${field}:String})`);
  }
  const threshold = samplingThreshold(ev.spec.sampling.rate);
  if (threshold < TWO_64) {
    params.seed = ev.spec.sampling.seed;
    params.threshold = threshold.toString();
    and.push("reinterpretAsUInt64(substring(SHA256(concat({seed:String}, ':', s.span_id)), 1, 8)) < {threshold:UInt64}");
  }
  // Attributes llm_spans has no column for: judge calls (never scored), metadata and tags.
  const attr: string[] = ["SpanAttributes['tracegate.purpose'] != 'evaluator'"];
  Object.entries(t.metadata ?? {}).forEach(([k, v], i) => {
    params[`mk${i}`] = k;
    params[`mv${i}`] = v;
    attr.push(`JSONExtractString(SpanAttributes['metadata'], {mk${i}:String}) = {mv${i}:String}`);
  });
  if (t.tags?.length) {
    params.tags = t.tags;
    attr.push("hasAny(JSONExtract(SpanAttributes['tag.tags'], 'Array(String)'), {tags:Array(String)})");
  }
  and.push(`(s.trace_id, s.span_id) IN (SELECT TraceId, SpanId FROM ${db}.otel_traces
      WHERE Timestamp >= fromUnixTimestamp64Milli(toInt64({since:Float64} * 1000))
        AND Timestamp < fromUnixTimestamp64Milli(toInt64({until:Float64} * 1000)) AND ${attr.join(' AND ')})`);
  return { where: and.join('\n  AND '), params };
}

/**
 * The worker's reads yield to ingest: one thread each, and a lower priority than the collector's
 * inserts (ClickHouse pauses a lower-priority query while a higher-priority one runs), so scoring
 * takes the CPU ingest leaves over.
 */
const BACKGROUND: ClickHouseSettings = { max_threads: 1, priority: '10' };

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: BACKGROUND });
  return rs.json<T>();
}

/** Up to `limit` spans to score, oldest first, with their attributes. */
export async function selectCandidates(client: ClickHouseClient, db: string, ev: EvaluatorConfig, w: Window, limit: number, sel: Selection = {}): Promise<StoredSpan[]> {
  const { where, params } = candidateWhere(db, ev, w, sel);
  const ids = await rows<{ trace_id: string; span_id: string; model: string; ts: string }>(
    client,
    `SELECT s.trace_id AS trace_id, s.span_id AS span_id, s.model AS model, toString(s.timestamp) AS ts
     FROM ${db}.llm_spans AS s WHERE ${where} ORDER BY s.timestamp LIMIT {limit:UInt32}`,
    { ...params, limit },
  );
  if (ids.length === 0) return [];
  const attrs = await rows<{ TraceId: string; SpanId: string; SpanAttributes: Record<string, string> }>(
    client,
    `SELECT TraceId, SpanId, SpanAttributes FROM ${db}.otel_traces
     WHERE Timestamp >= fromUnixTimestamp64Milli(toInt64({since:Float64} * 1000)) AND Timestamp < fromUnixTimestamp64Milli(toInt64({until:Float64} * 1000))
       AND TraceId IN {traces:Array(String)} AND SpanId IN {spans:Array(String)}
     LIMIT 1 BY TraceId, SpanId`,
    { since: params.since, until: params.until, traces: [...new Set(ids.map((r) => r.trace_id))], spans: ids.map((r) => r.span_id) },
  );
  const byId = new Map(attrs.map((a) => [`${a.TraceId}/${a.SpanId}`, a.SpanAttributes]));
  return ids.flatMap((r) => {
    const a = byId.get(`${r.trace_id}/${r.span_id}`);
    return a ? [{ traceId: r.trace_id, spanId: r.span_id, kind: ev.spec.target.kind as TargetKind, model: r.model, attributes: a }] : [];
  });
}

/** How many spans wait for this evaluator in the window (the backlog in /metrics). */
export async function countBacklog(client: ClickHouseClient, db: string, ev: EvaluatorConfig, w: Window, sel: Selection = {}): Promise<number> {
  const { where, params } = candidateWhere(db, ev, w, sel);
  const r = await rows<{ n: string }>(client, `SELECT count() AS n FROM ${db}.llm_spans AS s WHERE ${where}`, params);
  return Number(r[0]?.n ?? 0);
}

/** Documents RETRIEVER spans of these traces found, in span order (for faithfulness of LLM answers). */
export async function traceDocuments(client: ClickHouseClient, db: string, traceIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (traceIds.length === 0) return out;
  const r = await rows<{ TraceId: string; docs: string[] }>(
    client,
    `SELECT TraceId, arrayFlatten(groupArray(arrayMap(k -> SpanAttributes[k],
         arraySort(k -> toUInt32OrZero(extract(k, '^retrieval\\\\.documents\\\\.(\\\\d+)\\\\.')),
           arrayFilter(k -> match(k, '^retrieval\\\\.documents\\\\.\\\\d+\\\\.document\\\\.content$'), mapKeys(SpanAttributes)))))) AS docs
     FROM (SELECT TraceId, SpanAttributes FROM ${db}.otel_traces
           WHERE TraceId IN {ids:Array(String)} AND SpanAttributes['openinference.span.kind'] = 'RETRIEVER' ORDER BY Timestamp)
     GROUP BY TraceId`,
    { ids: traceIds },
  );
  for (const x of r) out.set(x.TraceId, x.docs.slice(0, 50));
  return out;
}

/** What the evaluator's judge calls cost since `sinceMs` (its budget day's start). */
export async function spentSince(client: ClickHouseClient, db: string, evaluator: string, sinceMs: number): Promise<number> {
  const r = await rows<{ usd: number }>(
    client,
    `SELECT sum(cost_total) AS usd FROM ${db}.evaluator_runs WHERE evaluator = {name:String} AND timestamp >= fromUnixTimestamp64Milli(toInt64({since:Float64} * 1000))`,
    { name: evaluator, since: seconds(sinceMs) },
  );
  return Number(r[0]?.usd ?? 0);
}
