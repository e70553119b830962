export { buildSqlInterface, type SqlInterface, type SqlInterfaceOptions, type SqlInterfaceLogger } from './server.js';
export { SqlInterfaceConfigSchema, parseSqlInterfaceConfig, type SqlInterfaceConfig, type SqlInterfaceConfigInput } from './config.js';
export { readMarker, MARKER_FILE, type SqlInterfaceMarker } from './marker.js';
