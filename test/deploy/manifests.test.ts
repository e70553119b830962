/**
 * The deployment files parse, reference what exists, and agree with the code: the gateway
 * configuration in the Kubernetes ConfigMap validates, and the committed HTTPRoute is what
 * `tracegate render` makes of it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfig } from '../../gateway/config/load.js';
import { renderHttpRoutes, toYaml } from '../../gateway/config/render.js';

const K8S = 'deploy/kubernetes';
const docsOf = (file: string) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string> });

describe('Kubernetes manifests', () => {
  const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml'));

  it('parse, and every object has a kind, a name and the tracegate namespace', () => {
    for (const f of files.filter((f) => f !== 'kustomization.yaml')) {
      for (const d of docsOf(join(K8S, f))) {
        expect(d.kind, f).toBeTruthy();
        expect(d.metadata?.name, f).toBeTruthy();
        if (d.kind !== 'Namespace') expect(d.metadata.namespace, `${f} ${d.kind}`).toBe('tracegate');
      }
    }
  });

  it('kustomization lists files that exist', () => {
    const k = parseYaml(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    for (const r of k.resources) expect(existsSync(join(K8S, r)), r).toBe(true);
  });

  it('the gateway config validates and renders to the committed HTTPRoute', () => {
    const cm = docsOf(join(K8S, 'gateway.yaml')).find((d) => d.kind === 'ConfigMap')!;
    const result = parseConfig(cm.data!['tracegate.yaml'], { env: { OPENAI_API_KEY: 'x', ANTHROPIC_API_KEY: 'y' } });
    if (!result.ok) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
    const committed = docsOf(join(K8S, 'gateway-api.yaml')).filter((d) => d.kind === 'HTTPRoute');
    const rendered = renderHttpRoutes(result.config);
    expect(committed).toEqual(parseAllDocuments(toYaml(rendered.resources)).map((d) => d.toJS()));
  });
});

describe('compose files', () => {
  for (const file of ['deploy/compose.yaml', 'deploy/grafana/compose.yaml']) {
    it(`${file} parses and mounts folders that exist`, () => {
      const c = parseYaml(readFileSync(file, 'utf8')) as { services: Record<string, { volumes?: string[]; build?: { context: string } }> };
      for (const [name, svc] of Object.entries(c.services)) {
        for (const v of svc.volumes ?? []) {
          const src = v.split(':')[0];
          if (src.startsWith('.')) expect(existsSync(resolve(dirname(file), src)), `${name}: ${src}`).toBe(true);
        }
        if (svc.build) expect(existsSync(resolve(dirname(file), svc.build.context, 'Dockerfile'))).toBe(true);
      }
    });
  }
});

/** Environment variable names that hold a credential. */
const SECRET_NAME = /PASSWORD|TOKEN|MASTER_KEY|API_KEY|SECRET/;
/** What each tracegate command needs when it listens beyond loopback. */
const NEEDS: Record<string, string[]> = {
  gateway: ['TRACEGATE_MASTER_KEY'],
  collector: ['TRACEGATE_COLLECTOR_TOKEN'],
  start: ['TRACEGATE_MASTER_KEY', 'TRACEGATE_COLLECTOR_TOKEN', 'TRACEGATE_SQL_PASSWORD'],
};
const FLAG_FOR: Record<string, string> = {
  TRACEGATE_MASTER_KEY: '--master-key-file',
  TRACEGATE_COLLECTOR_TOKEN: '--collector-token-file',
  TRACEGATE_SQL_PASSWORD: '--sql-password-file',
  TRACEGATE_KEY_PEPPER: '--key-pepper-file',
};

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
}

describe('secrets are wired, never written', () => {
  const containers = readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => docsOf(join(K8S, f)))
    .flatMap((d) => (d as { spec?: { template?: { spec?: { containers?: Container[] } } } }).spec?.template?.spec?.containers ?? []);

  it('every tracegate container listening on 0.0.0.0 takes its secrets from a Secret (secretKeyRef)', () => {
    const gatewayConfig = docsOf(join(K8S, 'gateway.yaml')).find((d) => d.kind === 'ConfigMap')!.data!['tracegate.yaml'];
    const tracegate = containers.filter((c) => c.image.includes('tracegate'));
    expect(tracegate.map((c) => c.args?.[0]).sort()).toEqual(['collector', 'gateway']);
    for (const c of tracegate) {
      const command = c.args![0];
      const open = c.args!.includes('0.0.0.0') || (command === 'gateway' && /host: 0\.0\.0\.0/.test(gatewayConfig));
      expect(open, c.name).toBe(true);
      for (const name of NEEDS[command]) {
        const e = c.env?.find((x) => x.name === name);
        expect(e?.valueFrom?.secretKeyRef, `${c.name} ${name}`).toMatchObject({ name: 'tracegate-secrets', key: name });
      }
    }
  });

  it('no container sets a credential as a literal value', () => {
    for (const c of containers) {
      for (const e of c.env ?? []) if (SECRET_NAME.test(e.name)) expect(e.value, `${c.name} ${e.name}`).toBeUndefined();
      // A value may only refer to a secret-backed variable, as the OTLP headers do.
      for (const e of c.env ?? []) if (e.value && /Bearer/.test(e.value)) expect(e.value).toMatch(/Bearer \$\([A-Z_]+\)$/);
    }
  });

  it('secrets.example.yaml shows the shape with every value empty, including the two tracegate secrets', () => {
    const [secret] = docsOf(join(K8S, 'secrets.example.yaml')) as unknown as { kind: string; stringData: Record<string, string> }[];
    expect(secret.kind).toBe('Secret');
    for (const k of ['TRACEGATE_MASTER_KEY', 'TRACEGATE_COLLECTOR_TOKEN', 'CLICKHOUSE_PASSWORD']) expect(secret.stringData, k).toHaveProperty(k);
    for (const [k, v] of Object.entries(secret.stringData)) expect(v, k).toBe('');
  });

  it('compose: tracegate on 0.0.0.0 reads each secret from a compose secret file; no literal credential anywhere', () => {
    const c = parseYaml(readFileSync('deploy/compose.yaml', 'utf8')) as {
      secrets: Record<string, { file: string }>;
      services: Record<string, { command?: string[]; secrets?: string[]; environment?: Record<string, string> }>;
    };
    const svc = c.services.tracegate;
    expect(svc.command).toContain('0.0.0.0');
    // The pepper too: without it ApiKey documents cannot be checked and the gateway refuses to start.
    for (const name of [...NEEDS[svc.command![0]], 'TRACEGATE_KEY_PEPPER']) {
      const i = svc.command!.indexOf(FLAG_FOR[name]);
      expect(i, FLAG_FOR[name]).toBeGreaterThan(0);
      const secret = /^\/run\/secrets\/(.+)$/.exec(svc.command![i + 1])?.[1];
      expect(svc.secrets, name).toContain(secret);
      expect(c.secrets[secret!].file).toMatch(/^\.\/secrets\//);
    }
    for (const file of ['deploy/compose.yaml', 'deploy/grafana/compose.yaml']) {
      const services = (parseYaml(readFileSync(file, 'utf8')) as typeof c).services;
      for (const [name, s] of Object.entries(services)) {
        for (const [k, v] of Object.entries(s.environment ?? {})) {
          // Allowed: a *_FILE path, or a value interpolated from the shell (`${VAR:-}`).
          if (SECRET_NAME.test(k) && !k.endsWith('_FILE')) expect(String(v), `${file} ${name} ${k}`).toMatch(/^\$\{[A-Z_]+(:-)?\}$/);
        }
      }
    }
  });

  it('the Dockerfile bakes in no secret and starts on 0.0.0.0, which needs them at run time', () => {
    const docker = readFileSync('Dockerfile', 'utf8');
    for (const line of docker.split('\n').filter((l) => /^(ENV|ARG)\b/.test(l))) expect(line).not.toMatch(SECRET_NAME);
    expect(docker).toMatch(/CMD \["start", "--host", "0\.0\.0\.0"\]/);
    for (const v of NEEDS.start) expect(docker).toContain(v);
  });
});
