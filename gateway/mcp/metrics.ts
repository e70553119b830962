/**
 * Metrics of the MCP gateway: requests by server, method and outcome, and their duration as the
 * OpenTelemetry MCP conventions name it (`mcp.server.operation.duration`, seconds, the GenAI
 * duration buckets). Label values come from the configuration (server names), MCP's method list
 * and the servers' own tool lists, never from what a client sends.
 */
import { DURATION_BUCKETS } from '../telemetry/metrics.js';
import { Counter, Histogram } from '../../common/metrics/registry.js';

/** MCP methods the gateway serves; any other method is counted as `other`. */
export const METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
]);

export type Outcome = 'ok' | 'tool_error' | 'error' | 'timeout' | 'upstream_error' | 'forbidden' | 'rate_limited' | 'unauthenticated' | 'invalid';

export interface McpMetrics {
  record(server: string, method: string, tool: string, outcome: Outcome, seconds: number): void;
  render(): string;
}

export function buildMcpMetrics(): McpMetrics {
  const requests = new Counter('tracegate_gateway_mcp_requests_total', 'MCP requests through /mcp by server, method, tool and outcome', ['server', 'mcp_method_name', 'gen_ai_tool_name', 'outcome']);
  const duration = new Histogram(
    'mcp_server_operation_duration',
    'MCP request duration at the gateway (until its answer), by server, method and tool',
    ['server', 'mcp_method_name', 'gen_ai_tool_name', 'error_type'],
    DURATION_BUCKETS,
    's',
  );
  return {
    record(server, method, tool, outcome, seconds) {
      const m = method === '' || METHODS.has(method) ? method : 'other';
      requests.inc([server, m, tool, outcome]);
      duration.observe([server, m, tool, outcome === 'ok' ? '' : outcome], seconds);
    },
    render: () => `${requests.render()}\n${duration.render()}`,
  };
}
