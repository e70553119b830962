import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DATASOURCE_TYPE, DATASOURCE_UID, FOLDER } from '../../dashboards/model.js';

const root = join(import.meta.dirname, '..', '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

/**
 * Grafana parses the YAML, then expands each string value with Go's os.ExpandEnv (`$X` and
 * `${X}`, unset is empty), so an expanded number stays a string.
 */
function provisioned(path: string, env: Record<string, string>): any {
  const expand = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(/\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g, (_m, b?: string, p?: string) => env[b ?? p ?? ''] ?? '');
    if (Array.isArray(v)) return v.map(expand);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expand(x)]));
    return v;
  };
  return expand(parse(read(path)));
}

function envFile(): Record<string, string> {
  const lines = read('dashboards/provisioning/grafana.env')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe('Grafana provisioning', () => {
  const env = envFile();

  it('defaults to the local store over HTTP on 127.0.0.1:8123, database tracegate', () => {
    const ds = provisioned('dashboards/provisioning/datasources/tracegate.yaml', env).datasources;
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ uid: DATASOURCE_UID, type: DATASOURCE_TYPE, access: 'proxy' });
    expect(ds[0].jsonData).toMatchObject({ protocol: 'http', host: '127.0.0.1', port: '8123', defaultDatabase: 'tracegate', username: 'default' });
    expect(ds[0].jsonData.traces).toMatchObject({ defaultTable: 'otel_traces', otelEnabled: true, durationUnit: 'nanoseconds' });
  });

  it('takes host, port, credentials and database from the environment', () => {
    const custom = { ...env, TRACEGATE_CLICKHOUSE_HOST: 'ch.internal', TRACEGATE_CLICKHOUSE_PORT: '8443', TRACEGATE_DATABASE: 'obs', TRACEGATE_CLICKHOUSE_PASSWORD: 's3cret' };
    const ds = provisioned('dashboards/provisioning/datasources/tracegate.yaml', custom).datasources[0];
    expect(ds.jsonData).toMatchObject({ host: 'ch.internal', port: '8443', defaultDatabase: 'obs' });
    expect(ds.secureJsonData.password).toBe('s3cret');
  });

  it('loads every dashboard file into the tracegate folder', () => {
    const providers = provisioned('dashboards/provisioning/dashboards/tracegate.yaml', env).providers;
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ folder: FOLDER, type: 'file', options: { path: env.TRACEGATE_DASHBOARDS_DIR } });
  });

  it('the compose file mounts the same files with the same defaults', () => {
    const grafana = parse(read('deploy/grafana/compose.yaml')).services.grafana;
    const defaults = Object.fromEntries(Object.entries(grafana.environment as Record<string, string>).map(([k, v]) => [k, /^\$\{[A-Z_]+:-(.*)\}$/.exec(v)?.[1] ?? v]));
    for (const [k, v] of Object.entries(env)) expect(defaults[k], k).toBe(v);
    expect(grafana.environment.GF_INSTALL_PLUGINS).toContain(DATASOURCE_TYPE);
    const mounts = (grafana.volumes as string[]).map((m) => m.split(':'));
    expect(mounts).toContainEqual(['../../dashboards/json', env.TRACEGATE_DASHBOARDS_DIR, 'ro']);
    for (const [src] of mounts) expect(existsSync(join(root, 'deploy', 'grafana', src)), src).toBe(true);
    const home = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string;
    expect(existsSync(join(root, 'dashboards', 'json', home.slice(env.TRACEGATE_DASHBOARDS_DIR.length + 1))), home).toBe(true);
  });
});
