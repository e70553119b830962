/**
 * What the agent-loop tests share: the weather MCP server, and a gateway exporting to a real
 * collector and embedded store in front of an OpenAI stand-in that picks get_weather first and
 * answers once it has the tool's result.
 */
import { afterAll, beforeAll } from 'vitest';
import { useGatewayToCollector, type GatewayToCollector } from '../e2e.js';
import { backendDoc, config, docs } from '../helpers.js';
import { mcpServerDoc, startWeather, type TestMcpServer } from './servers.js';

export const ANSWER = 'It is sunny in Lyon.';

export function useAgentStack(telemetry = ''): GatewayToCollector {
  let weather: TestMcpServer | undefined;
  beforeAll(async () => {
    weather = await startWeather();
  });
  afterAll(async () => {
    await weather?.close();
  });
  return useGatewayToCollector(
    { reply: (body: { messages: { role: string }[] }) => (body.messages.some((m) => m.role === 'tool') ? { text: ANSWER } : { toolCalls: [{ name: 'get_weather', arguments: '{"city":"Lyon"}' }] }) },
    (otlp, stub) =>
      config(
        docs(
          `kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { otlpEndpoint: "${otlp}"${telemetry} }`,
          backendDoc('up', 'openai', stub),
          'kind: Route\nmetadata: { name: chat }\nspec:\n  rules:\n    - matches: [{ model: gpt-4o-mini }]\n      targets: [{ backend: up }]',
          mcpServerDoc('weather', (weather as TestMcpServer).url),
        ),
      ),
  );
}
