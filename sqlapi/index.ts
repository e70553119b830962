export { buildSqlInterface, type SqlInterface, type SqlInterfaceOptions, type SqlInterfaceLogger } from './server.js';
export { SqlInterfaceConfigSchema, parseSqlInterfaceConfig, sqlLimitsFromFlags, SQL_LIMIT_FLAGS, type SqlInterfaceConfig, type SqlInterfaceConfigInput, type SqlLimitsInput } from './config.js';
export { readMarker, readAnnouncement, MARKER_FILE, type SqlInterfaceMarker, type Announcement } from './marker.js';
