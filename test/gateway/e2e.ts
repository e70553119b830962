/**
 * End-to-end fixture: a gateway exporting its spans with the real OTLP gRPC exporter (batched) to
 * a real collector writing into a temporary embedded store, in front of an OpenAI stand-in. Set
 * up before a file's tests and torn down after them.
 */
import { afterAll, beforeAll } from 'vitest';
import type { GatewayConfig } from '../../gateway/config/model.js';
import { buildGateway, type Gateway, type GatewayDeps } from '../../gateway/server.js';
import { startCollector, tempStore, type RunningCollector } from '../collector/helpers.js';
import { startOpenAIStub, type OpenAIStub, type OpenAIStubOptions } from '../helpers/providers/index.js';
import type { TempStore } from '../helpers/store.js';

export interface GatewayToCollector {
  store: TempStore;
  collector: RunningCollector;
  stub: OpenAIStub;
  gw: Gateway;
  /** `http://127.0.0.1:PORT` */
  url: string;
}

/** `configFor` gets the collector's OTLP gRPC URL and the stub's URL. */
export function useGatewayToCollector(stubOptions: OpenAIStubOptions, configFor: (otlpUrl: string, stubUrl: string) => GatewayConfig, deps: GatewayDeps = {}): GatewayToCollector {
  const fx = {} as GatewayToCollector;
  beforeAll(async () => {
    fx.store = await tempStore();
    fx.collector = await startCollector(fx.store);
    fx.stub = await startOpenAIStub(stubOptions);
    fx.gw = buildGateway(configFor(fx.collector.grpcUrl, fx.stub.url), { logLevel: 'silent', ...deps });
    fx.url = await fx.gw.listen({ host: '127.0.0.1', port: 0 });
  }, 60_000);
  afterAll(async () => {
    await fx.gw?.close();
    await fx.stub?.close();
    await fx.collector?.stop();
    await fx.store?.destroy();
  });
  return fx;
}
