import { board, queryVariable } from '../board.js';
import type { Dashboard } from '../model.js';
import { stat, table, timeseries } from '../panels.js';
import { bucket, inVar, where } from '../sql.js';

/**
 * Pipeline health from `collector_stats`, the rows every collector instance writes every few
 * seconds. Span counters are running totals per process (instance, started_at): a rate is the
 * difference between one row and the previous row of the same process.
 */

const FILTER = where('$__timeFilter(timestamp)', inVar('instance', 'instance'));
const COUNTERS = ['received', 'accepted', 'duplicate', 'refused', 'exported', 'spooled', 'dropped'] as const;

const delta = (col: string) => `greatest(toInt64(${col}) - toInt64(lagInFrame(${col}, 1, ${col}) OVER w), 0)`;

/** Per row: the bucket, the instance, and how much each counter grew since the previous row. */
const DELTAS = `
    SELECT
      ${bucket('timestamp')} AS time,
      instance,
      ${COUNTERS.map((c) => `${delta(`${c}_spans`)} AS ${c}`).join(',\n      ')},
      ${delta('export_failures')} AS failures,
      greatest(export_latency_sum_seconds - lagInFrame(export_latency_sum_seconds, 1, export_latency_sum_seconds) OVER w, 0) AS latency_sum,
      ${delta('export_latency_count')} AS latency_count
    FROM collector_stats
    WHERE ${FILTER}
    WINDOW w AS (PARTITION BY instance, started_at ORDER BY timestamp ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)`;

/** The last row of each instance in the range. */
const LATEST = `
    SELECT instance, argMax(queue_spans, timestamp) AS queue_spans, argMax(spool_bytes, timestamp) AS spool_bytes, max(timestamp) AS last_seen
    FROM collector_stats
    WHERE ${FILTER}
    GROUP BY instance`;

export function pipelineDashboard(): Dashboard {
  return board({
    uid: 'tracegate-pipeline',
    title: 'tracegate / Pipeline health',
    description: "The collector's own counters: spans received, exported, spooled and dropped, queue depth, spool size, export latency.",
    from: 'now-3h',
    variables: [queryVariable('instance', 'Collector', 'SELECT DISTINCT instance FROM collector_stats WHERE $__timeFilter(timestamp) ORDER BY 1')],
    panels: [
      stat('Spans exported', `SELECT sum(exported) AS exported FROM (${DELTAS})`, { unit: 'short' }),
      stat('Spans dropped', `SELECT sum(dropped) AS dropped FROM (${DELTAS})`, { unit: 'short', description: 'Accepted spans lost (a batch ClickHouse refused as malformed). Should stay 0.' }),
      stat('Spans in queue now', `SELECT sum(queue_spans) AS queue FROM (${LATEST})`, { unit: 'short' }),
      stat('Spool size now', `SELECT sum(spool_bytes) AS spool FROM (${LATEST})`, { unit: 'bytes' }),
      timeseries(
        'Spans per second',
        `
        SELECT time, ${COUNTERS.map((c) => `sum(${c}) / $__interval_s AS ${c}`).join(', ')}
        FROM (${DELTAS})
        GROUP BY time
        ORDER BY time`,
        {
          unit: 'short',
          w: 24,
          h: 8,
          description:
            'received = accepted + duplicate + refused; duplicate: a retry of a request already spooled, acknowledged and not stored again; spooled: waited on disk past the first export attempt',
        },
      ),
      timeseries(
        'Queue depth (spans) by instance',
        `
        SELECT ${bucket('timestamp')} AS time, instance, max(queue_spans) AS queue_spans
        FROM collector_stats
        WHERE ${FILTER}
        GROUP BY time, instance
        ORDER BY time`,
        { unit: 'short', w: 8 },
      ),
      timeseries(
        'Spool size by instance',
        `
        SELECT ${bucket('timestamp')} AS time, instance, max(spool_bytes) AS spool_bytes
        FROM collector_stats
        WHERE ${FILTER}
        GROUP BY time, instance
        ORDER BY time`,
        { unit: 'bytes', w: 8 },
      ),
      timeseries(
        'Export latency (mean) and failures',
        `
        SELECT time, sum(latency_sum) / nullIf(sum(latency_count), 0) AS mean_latency_s, sum(failures) AS failed_inserts
        FROM (${DELTAS})
        GROUP BY time
        ORDER BY time`,
        {
          unit: 's',
          w: 8,
          overrides: [
            {
              matcher: { id: 'byName', options: 'failed_inserts' },
              properties: [
                { id: 'unit', value: 'short' },
                { id: 'custom.axisPlacement', value: 'right' },
              ],
            },
          ],
        },
      ),
      timeseries(
        'Count-once decider: seconds since its last run, by instance',
        `
        SELECT ${bucket('timestamp')} AS time, instance,
          max(if(decider_last_success = 0, NULL, dateDiff('millisecond', decider_last_success, timestamp) / 1000)) AS decider_lag_s
        FROM collector_stats
        WHERE ${FILTER}
        GROUP BY time, instance
        ORDER BY time`,
        {
          unit: 's',
          w: 24,
          h: 7,
          description:
            'A model call is read (llm_spans, usage, agent runs, every dashboard) once the count-once decider has decided it (README, "Count once, at every moment"). It runs every 2 s; while this grows, new calls are stored and wait for it. Each collector reports its own node. Its last error is in the table below. Empty: no successful run yet, or rows from before 0083.',
        },
      ),
      table(
        'Collector instances',
        `
        SELECT
          instance,
          max(started_at) AS started,
          max(timestamp) AS last_seen,
          argMax(received_spans, timestamp) AS received,
          argMax(exported_spans, timestamp) AS exported,
          argMax(spooled_spans, timestamp) AS spooled,
          argMax(dropped_spans, timestamp) AS dropped,
          argMax(queue_spans, timestamp) AS queue_spans,
          argMax(spool_bytes, timestamp) AS spool_bytes,
          argMax(decider_exception, timestamp) AS decider_error
        FROM collector_stats
        WHERE ${FILTER}
        GROUP BY instance
        ORDER BY instance`,
        { h: 7, description: 'Totals since each instance last started.' },
      ),
    ],
  });
}
