import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ProcessorConfigSchema } from './processors/index.js';

const MiB = 1024 * 1024;

const endpoint = (port: number) =>
  z
    .object({
      enabled: z.boolean().default(true),
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(port),
    })
    .strict();

/**
 * The collector's configuration: one schema with every default (the OpenTelemetry Collector's
 * where it has one), validated once, all problems reported with their paths.
 */
export const CollectorConfigSchema = z
  .object({
    /** OTLP/gRPC receiver. */
    grpc: endpoint(4317).prefault({}),
    /** OTLP/HTTP receiver; feedback, usage, health and metrics share its port. */
    http: endpoint(4318).prefault({}),
    /** When set, every data route requires `authorization: Bearer <token>`: OTLP over gRPC and HTTP, `/v1/feedback`, `/v1/usage` (health and metrics stay open). */
    authToken: z.string().min(8, 'use a token of at least 8 characters').optional(),
    /** Largest request body (after gzip is undone) and gRPC message. */
    maxRequestBytes: z
      .number()
      .int()
      .min(1024)
      .default(20 * MiB),
    /** Seconds a client is told to wait (Retry-After, RetryInfo) when the spool is full. */
    retryAfterSeconds: z.number().int().min(1).max(3600).default(5),
    batch: z
      .object({
        /** A batch is sealed for export at this many spans (once the exporter is free)… */
        sendBatchSize: z.number().int().min(1).default(8192),
        /**
         * …while an insert runs it keeps filling up to this many spans (0: only maxBatchBytes
         * bounds it), so under load ClickHouse gets fewer, larger inserts.
         */
        sendBatchMaxSize: z.number().int().min(0).default(0),
        /** …or this many bytes… */
        maxBatchBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 * MiB),
        /** …or this long after its first span, once the exporter is free. */
        timeoutMs: z.number().int().min(1).default(200),
      })
      .strict()
      .prefault({}),
    pipeline: z
      .object({
        /**
         * Worker threads that decode, process and encode requests, beside the thread that
         * receives them and writes the spool; 0 does it all on the receiving thread. Default:
         * one per core, at most two (the engine inserting needs CPU too).
         */
        workers: z
          .number()
          .int()
          .min(0)
          .max(16)
          .default(() => Math.max(1, Math.min(2, availableParallelism()))),
        /** Request bytes waiting for a worker past which requests are refused (retryable): memory stays bounded. */
        maxQueueBytes: z
          .number()
          .int()
          .min(MiB)
          .default(64 * MiB),
      })
      .strict()
      .prefault({}),
    spool: z
      .object({
        dir: z.string().min(1).default('./.tracegate/spool'),
        /** Past this many bytes waiting for ClickHouse, the receivers refuse with a retryable answer. */
        maxBytes: z
          .number()
          .int()
          .min(MiB)
          .default(1024 * MiB),
        /** fsync every append before answering: survives power loss, not only process death; slower. */
        fsync: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    retry: z
      .object({
        initialIntervalMs: z.number().int().min(1).default(5000),
        maxIntervalMs: z.number().int().min(1).default(30_000),
        multiplier: z.number().min(1).default(1.5),
        randomizationFactor: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .prefault({}),
    /** How long a shutdown keeps exporting before leaving the rest in the spool for the next start. */
    shutdownTimeoutMs: z.number().int().min(0).default(10_000),
    stats: z
      .object({
        /** How often the counters are written to `collector_stats`; 0 turns it off. */
        intervalMs: z.number().int().min(0).default(10_000),
        /** Names this collector in `collector_stats`; default: host name and process id. */
        instance: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** The table spans go to, in the store's database. */
    table: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .default('otel_traces'),
    processor: ProcessorConfigSchema.prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.grpc.enabled && c.http.enabled && c.grpc.port !== 0 && c.grpc.port === c.http.port && c.grpc.host === c.http.host) {
      ctx.addIssue({ code: 'custom', path: ['grpc', 'port'], message: `gRPC and HTTP cannot both listen on ${c.http.host}:${c.http.port}` });
    }
    if (/[*?{}[\]]/.test(c.spool.dir)) {
      ctx.addIssue({ code: 'custom', path: ['spool', 'dir'], message: 'the spool folder name must not contain * ? { } [ ] (the engine reads batch files by path)' });
    }
    if (c.pipeline.workers > 0 && c.pipeline.maxQueueBytes < c.maxRequestBytes) {
      ctx.addIssue({ code: 'custom', path: ['pipeline', 'maxQueueBytes'], message: 'must be at least maxRequestBytes (one request of the largest size must fit)' });
    }
    if (c.batch.sendBatchMaxSize > 0 && c.batch.sendBatchMaxSize < c.batch.sendBatchSize) {
      ctx.addIssue({ code: 'custom', path: ['batch', 'sendBatchMaxSize'], message: 'must be 0 or at least sendBatchSize' });
    }
    if (c.batch.maxBatchBytes > c.spool.maxBytes) {
      ctx.addIssue({ code: 'custom', path: ['batch', 'maxBatchBytes'], message: 'must not exceed spool.maxBytes' });
    }
    if (c.retry.initialIntervalMs > c.retry.maxIntervalMs) {
      ctx.addIssue({ code: 'custom', path: ['retry', 'initialIntervalMs'], message: 'must not exceed retry.maxIntervalMs' });
    }
  });

export type CollectorConfigInput = z.input<typeof CollectorConfigSchema>;
export type CollectorConfig = z.output<typeof CollectorConfigSchema>;

/** Validates (every problem, with its path, in one error) and freezes. */
export function parseCollectorConfig(raw: unknown): Readonly<CollectorConfig> {
  const result = CollectorConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new CollectorConfigError(`invalid collector configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(result.data);
}

export class CollectorConfigError extends Error {}
