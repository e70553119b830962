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
