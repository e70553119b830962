export { buildSqlInterface, type SqlInterface, type SqlInterfaceOptions, type SqlInterfaceLogger } from './server.js';
export { SqlInterfaceConfigSchema, parseSqlInterfaceConfig, type SqlInterfaceConfig, type SqlInterfaceConfigInput } from './config.js';
