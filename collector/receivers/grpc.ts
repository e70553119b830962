/**
 * OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on @grpc/grpc-js,
 * with identity (de)serializers: the handler decodes the bytes itself, so a body that does not
 * decode is an INVALID_ARGUMENT that says why, and grpc-js still handles compression and the
 * message size limit (RESOURCE_EXHAUSTED).
 */
import * as grpc from '@grpc/grpc-js';
import type { FastifyBaseLogger } from 'fastify';
import type { Http2Server, Http2Session, ServerOptions as Http2ServerOptions } from 'node:http2';
import { CollectorError, collectorErrors } from '../errors.js';
import { exportResponseProto, statusProto } from '../otlp/response.js';
import { countRequest, type CollectorMetrics } from '../telemetry/metrics.js';
import { bearerOk } from './auth.js';
import type { ExportHandler } from './otlp.js';

export const TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const identity = (b: Buffer) => b;

const SERVICE: grpc.ServiceDefinition = {
  Export: {
    path: TRACE_EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/**
 * HTTP/2 flow control as the OpenTelemetry Collector's gRPC server ends up with (grpc-go grows
 * its windows by bandwidth-delay estimation, up to 16 MiB), instead of Node's 64 KiB: with the
 * default, an exporter's 1 MiB request waits for a window update every 32 KiB, and sends it in
 * 16 KiB frames. These windows bound what one connection may have unread in the receiver; the
 * request size limit and the ingest queue bound the rest.
 */
export const HTTP2_WINDOW_BYTES = 16 * 1024 * 1024;
export const HTTP2_MAX_FRAME_BYTES = 1024 * 1024;

/** The parts of grpc-js's Server (1.14) the window tuning reaches: not public API, so checked. */
interface GrpcServerInternals {
  commonServerOptions?: Http2ServerOptions;
  http2Servers?: Map<Http2Server, unknown>;
}

/** Larger stream windows and frames in the SETTINGS of every connection (before bind). */
export function tuneSettings(server: grpc.Server): boolean {
  const common = (server as unknown as GrpcServerInternals).commonServerOptions;
  if (!common) return false;
  common.settings = { ...common.settings, initialWindowSize: HTTP2_WINDOW_BYTES, maxFrameSize: HTTP2_MAX_FRAME_BYTES };
  return true;
}

/** The connection-level window of every new session (after bind: the HTTP/2 servers exist then). */
export function tuneSessions(server: grpc.Server): boolean {
  const servers = (server as unknown as GrpcServerInternals).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  for (const h2 of servers.keys()) {
    h2.on('session', (session: Http2Session) => {
      // Before the session's SETTINGS exchange the call throws; it then applies on 'connect'.
      const widen = () => session.setLocalWindowSize(HTTP2_WINDOW_BYTES);
      try {
        widen();
      } catch {
        session.once('connect', () => {
          try {
            widen();
          } catch {
            // a session that closed at once
          }
        });
      }
    });
  }
  return true;
}

export interface GrpcReceiverOptions {
  host: string;
  port: number;
  maxRequestBytes: number;
  authToken?: string;
}

export interface GrpcReceiver {
  start(): Promise<{ host: string; port: number }>;
  /** Stops taking calls, lets running ones finish (forced after `graceMs`). Idempotent. */
  shutdown(graceMs: number): Promise<void>;
}

export function buildGrpcReceiver(opts: GrpcReceiverOptions, deps: { handler: ExportHandler; metrics: CollectorMetrics; logger: FastifyBaseLogger }): GrpcReceiver {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxRequestBytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  const settingsTuned = tuneSettings(server);
  const refuse = (cb: grpc.sendUnaryData<Buffer>, err: CollectorError) => {
    countRequest(deps.metrics, 'grpc', err.code);
    const metadata = new grpc.Metadata();
    if (err.retryAfterSeconds !== undefined) {
      metadata.set('grpc-status-details-bin', statusProto(err.grpcCode, err.message, err.retryAfterSeconds));
    }
    cb({ code: err.grpcCode, details: err.message, metadata });
  };
  server.addService(SERVICE, {
    Export(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      const auth = call.metadata.get('authorization')[0];
      if (!bearerOk(opts.authToken, typeof auth === 'string' ? auth : auth?.toString())) return refuse(cb, collectorErrors.unauthenticated());
      deps.handler(call.request, 'protobuf').then(
        ({ rejected, message }) => {
          countRequest(deps.metrics, 'grpc', rejected ? 'partial' : 'ok');
          cb(null, exportResponseProto(rejected, message));
        },
        (err: unknown) => {
          if (err instanceof CollectorError) return refuse(cb, err);
          deps.logger.error({ err }, 'OTLP/gRPC export failed');
          countRequest(deps.metrics, 'grpc', 'internal');
          cb({ code: grpc.status.INTERNAL, details: 'internal error in the collector' });
        },
      );
    },
  });
  let stopped: Promise<void> | undefined;
  return {
    start() {
      const address = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
      return new Promise((resolve, reject) => {
        server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
          if (err) return reject(new Error(`OTLP/gRPC cannot listen on ${address}: ${err.message}`));
          if (!settingsTuned || !tuneSessions(server)) deps.logger.warn('OTLP/gRPC: this @grpc/grpc-js does not let the HTTP/2 windows be widened; exporters send in 64 KiB windows');
          resolve({ host: opts.host, port });
        });
      });
    },
    shutdown(graceMs) {
      stopped ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopped;
    },
  };
}
