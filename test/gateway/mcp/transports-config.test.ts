/**
 * McpServer documents by transport: `url` for http and sse, `command` (args, env, cwd) for stdio,
 * each refused with its path where it does not belong; a stdio server's env secrets resolved and
 * kept apart from the server's config; `tracegate render` leaves stdio servers out with a warning.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../gateway/config/load.js';
import { renderHttpRoutes } from '../../../gateway/config/render.js';
import { config, docs } from '../helpers.js';
import { mcpServerDoc } from './servers.js';

const problems = (text: string, env: NodeJS.ProcessEnv = {}) => {
  const r = parseConfig(text, { env });
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};
const server = (name: string, spec: string) => `kind: McpServer\nmetadata: { name: ${name} }\nspec:\n${spec}`;
const STDIO = '  transport: stdio\n  command: /usr/bin/mcp-local\n  args: ["--stdio"]';

describe('McpServer transports', () => {
  it.each([
    ['http without url', '  timeout: 5s', /^McpServer\/x spec\.url: an http McpServer needs url/],
    ['sse without url', '  transport: sse', /^McpServer\/x spec\.url: an sse McpServer needs url \(its SSE stream/],
    ['stdio without command', '  transport: stdio', /^McpServer\/x spec\.command: a stdio McpServer needs command/],
    ['stdio with url', `${STDIO}\n  url: "http://127.0.0.1:1/mcp"`, /^McpServer\/x spec\.url: url is for http and sse McpServers/],
    ['stdio with apiKey', `${STDIO}\n  apiKey: { env: K }`, /^McpServer\/x spec\.apiKey: apiKey is for http and sse McpServers/],
    ['http with command', '  url: "http://127.0.0.1:1/mcp"\n  command: ls', /^McpServer\/x spec\.command: command is for stdio McpServers/],
    ['an unknown transport', '  transport: websocket\n  url: "http://127.0.0.1:1/mcp"', /^McpServer\/x spec\.transport: /],
    ['an env name that is none', `${STDIO}\n  env: { "A-B": x }`, /^McpServer\/x spec\.env\.A-B: /],
    ['an env secret that is not set', `${STDIO}\n  env: { TOKEN: { env: NOT_SET } }`, /^McpServer\/x spec\.env\.TOKEN: environment variable NOT_SET is not set/],
  ])('refuses %s, with its path', (_what, spec, message) => {
    expect(problems(docs(server('x', spec)))).toEqual([expect.stringMatching(message)]);
  });

  it('compiles a stdio server: its command, and its env (secrets resolved) kept apart', () => {
    const c = config(docs(server('local', `${STDIO}\n  cwd: /srv\n  env: { MODE: fast, TOKEN: { env: LOCAL_TOKEN }, EXTRA: { env: NOT_SET, optional: true } }`)), { LOCAL_TOKEN: 'tok-123' });
    const s = c.mcpServers.get('local');
    expect(s).toMatchObject({ transport: 'stdio', url: 'stdio:/usr/bin/mcp-local', stdio: { command: '/usr/bin/mcp-local', args: ['--stdio'], cwd: '/srv' } });
    expect(JSON.stringify(s)).not.toContain('tok-123');
    expect(c.mcpEnv?.get('local')).toEqual({ MODE: 'fast', TOKEN: 'tok-123' });
    expect(config(docs(mcpServerDoc('h', 'http://127.0.0.1:1/mcp'))).mcpServers.get('h')?.transport).toBe('http');
  });

  it('render: an sse server is a backendRef, a stdio server is left out with a warning', () => {
    const c = config(docs(server('old', '  transport: sse\n  url: "http://old.internal:8080/sse"'), server('local', STDIO)));
    const { resources, warnings } = renderHttpRoutes(c);
    expect(resources).toHaveLength(1);
    expect((resources[0].spec as { backendRefs: unknown[] }).backendRefs).toEqual([{ group: 'gateway.envoyproxy.io', kind: 'Backend', name: 'old', path: '/sse' }]);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/McpServer local is a stdio process run by tracegate; it has no backendRef and is not rendered/),
        expect.stringMatching(/McpServer old speaks only HTTP\+SSE/),
      ]),
    );
    expect(renderHttpRoutes(config(docs(server('local', STDIO)))).resources).toEqual([]);
  });
});
