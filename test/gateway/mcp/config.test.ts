/**
 * McpServer documents in the control plane: validation (every problem with its path and line),
 * hot reload (a server added serves new sessions; an invalid file keeps the last good config),
 * and `tracegate render` (an MCPRoute beside the HTTPRoutes).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../gateway/config/load.js';
import { renderHttpRoutes, toYaml } from '../../../gateway/config/render.js';
import { generateKey, hashKey } from '../../../gateway/policy/keys.js';
import { config, docs } from '../helpers.js';
import { mcpServerDoc, useMcpGateway } from './servers.js';

const problems = (text: string, env: NodeJS.ProcessEnv = {}) => {
  const r = parseConfig(text, { env });
  return r.ok ? [] : r.problems.map((p) => `${p.path}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`);
};

describe('validation', () => {
  it('reports every problem of McpServer documents with its path', () => {
    const text = docs(
      'kind: McpServer\nmetadata: { name: a }\nspec:\n  url: "file:///etc/passwd"\n  timeout: soon\n  headers: { Authorization: "Bearer inline" }\n  colour: red',
      'kind: McpServer\nmetadata: { name: b }\nspec:\n  url: "http://user:pw@host/mcp"\n  apiKey: "inline-token"',
      mcpServerDoc('c', 'http://127.0.0.1:1/mcp', '  toolPrefix: shared'),
      mcpServerDoc('d', 'http://127.0.0.1:2/mcp', '  toolPrefix: shared\n  apiKey: { env: D_TOKEN }'),
      'kind: Gateway\nmetadata: { name: gw }\nspec:\n  mcp: { toolNames: sometimes, maxBatch: 0, sessionKey: { env: SHORT_KEY } }',
    );
    const p = problems(text, { SHORT_KEY: 'too-short' });
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^McpServer\/a spec\.url \(line 5\): only http and https URLs are allowed/),
        expect.stringMatching(/^McpServer\/a spec\.timeout \(line 6\): a duration/),
        expect.stringMatching(/^McpServer\/a spec\.headers\.Authorization \(line 7\): "Authorization" carries a credential/),
        expect.stringMatching(/^McpServer\/a spec \(line \d+\): .*colour/),
        expect.stringMatching(/^McpServer\/b spec\.url .*credentials inside a URL are not allowed/),
        expect.stringMatching(/^McpServer\/b spec\.apiKey .*an inline key is not allowed/),
        expect.stringMatching(/^McpServer\/d spec\.apiKey .*environment variable D_TOKEN is not set/),
        expect.stringMatching(/^McpServer\/d spec\.toolPrefix .*McpServer\/c already lists its tools under the prefix "shared"/),
        expect.stringMatching(/^Gateway\/gw spec\.mcp\.toolNames/),
        expect.stringMatching(/^Gateway\/gw spec\.mcp\.maxBatch/),
      ]),
    );
    expect(problems(docs(mcpServerDoc('x', 'http://127.0.0.1:1/mcp')), { TRACEGATE_MCP_SESSION_KEY: 'short' })).toEqual([
      'Gateway spec.mcp.sessionKey: the session key has 5 characters; use at least 32 (openssl rand -hex 32)',
    ]);
  });

  it("takes a configuration of MCP servers only (no Route needed), and ApiKeys' MCP settings", () => {
    const c = config(
      docs(
        mcpServerDoc('x', 'http://127.0.0.1:1/mcp', '  allowedTools: ["read_*"]'),
        `kind: ApiKey\nmetadata: { name: k }\nspec:\n  hash: ${hashKey(generateKey(), 'p'.repeat(32))}\n  allowedMcpServers: [x]\n  limits: { toolCallsPerMinute: 5 }`,
      ),
    );
    expect(c.mcpServers.get('x')).toMatchObject({ url: 'http://127.0.0.1:1/mcp', allowedTools: ['read_*'], prefix: 'x', timeoutMs: 30_000, authHeader: 'authorization' });
    expect(c.apiKeys.get('k')?.identity.tools).toEqual({ allowedServers: ['x'], allowedTools: [], callsPerMinute: 5, teamCallsPerMinute: undefined });
  });
});

describe('render', () => {
  it('writes an MCPRoute with one backendRef per McpServer and lists what it cannot say', () => {
    const c = config(
      docs(
        'kind: Gateway\nmetadata: { name: gw }\nspec:\n  kubernetes: { namespace: ai }',
        mcpServerDoc('github', 'https://api.githubcopilot.com/mcp/', '  apiKey: { env: GH }\n  allowedTools: ["get_*", "list_issues"]'),
        mcpServerDoc('docs', 'http://docs.internal:8080/mcp', '  backendRef: { name: docs-svc, kind: Service, group: "", port: 8080 }'),
      ),
      { GH: 'ghp_x' },
    );
    const { resources, warnings } = renderHttpRoutes(c);
    expect(resources).toEqual([
      {
        apiVersion: 'aigateway.envoyproxy.io/v1beta1',
        kind: 'MCPRoute',
        metadata: { name: 'tracegate-mcp', namespace: 'ai', labels: { 'app.kubernetes.io/managed-by': 'tracegate' } },
        spec: {
          parentRefs: [{ name: 'tracegate' }],
          path: '/mcp',
          backendRefs: [
            { group: 'gateway.envoyproxy.io', kind: 'Backend', name: 'github', path: '/mcp/', toolSelector: { includeRegex: ['^get_.*$', '^list_issues$'] } },
            { group: '', kind: 'Service', name: 'docs-svc', port: 8080, path: '/mcp' },
          ],
        },
      },
    ]);
    expect(warnings).toEqual([expect.stringContaining('McpServer github has a credential'), expect.stringContaining('prefixOnClash')]);
    expect(toYaml(resources)).not.toContain('ghp_x');
  });
});

describe('hot reload', () => {
  const fx = useMcpGateway((weather) => config(docs(mcpServerDoc('weather', weather))));

  const tools = async () => {
    const client = new Client({ name: 'reload', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fx.gw.url}/mcp`)));
    const names = (await client.listTools()).tools.map((t) => t.name);
    await client.close();
    return names;
  };

  it('serves a server added by a reload to new sessions, and keeps the last good config on a bad file', async () => {
    expect(await tools()).not.toContain('lookup');
    expect(fx.gw.gw.reload(parseConfig(docs(mcpServerDoc('weather', fx.weather.url), mcpServerDoc('docs', fx.docs.url)), { env: {} }))).toBe(true);
    expect(await tools()).toContain('lookup');
    expect(await tools()).toContain('docs__search');
    expect(fx.gw.gw.reload(parseConfig(docs(mcpServerDoc('weather', 'ftp://nope')), { env: {} }))).toBe(false);
    expect(await tools()).toContain('lookup');
  });
});
