/** The gateway's public surface: data plane factory, control plane loading, rendering. */
export { buildGateway, loggerOptions, REDACT_PATHS, type Gateway, type GatewayDeps } from './server.js';
export { loadConfigFile, parseConfig, type LoadOptions } from './config/load.js';
export { formatProblem, type ConfigProblem, type ConfigResult, type GatewayConfig } from './config/model.js';
export { watchConfigFile, type ConfigWatcher } from './config/watch.js';
export { renderHttpRoutes, toYaml } from './config/render.js';
export { configJsonSchemaText } from './config/json-schema.js';
export { API_VERSION } from './config/schema.js';
export type { Transport, UpstreamAnswer, UpstreamBody, UpstreamCall } from './upstream.js';
