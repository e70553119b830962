import { OI, type OiSpanKind } from '../../../common/semconv.js';
import type { Attributes } from '../../model.js';
import type { Patch } from '../attrs.js';
import type { Seen } from './detect.js';

const METADATA_PREFIXES = ['traceloop.association.properties.', 'ai.telemetry.metadata.'] as const;
const SESSION_NAMES = new Set(['session_id', 'sessionId', 'session.id', 'conversation_id', 'conversationId', 'thread_id', 'threadId']);
const USER_NAMES = new Set(['user_id', 'userId', 'user.id']);

/**
 * Session, user and metadata: `gen_ai.conversation.id`, OpenLLMetry association properties and
 * the AI SDK's telemetry metadata (both also become the OpenInference `metadata` JSON).
 */
export function fillContext(p: Patch, a: Attributes, seen: Seen): void {
  p.fill(OI.SESSION_ID, a['gen_ai.conversation.id']);
  p.fill(OI.USER_ID, a['enduser.id']);
  if (!seen.openllmetry && !seen.vercel) return;
  let meta: Record<string, string> | undefined;
  for (const key in a) {
    const prefix = METADATA_PREFIXES.find((pre) => key.startsWith(pre));
    if (!prefix) continue;
    const name = key.slice(prefix.length);
    (meta ??= {})[name] = a[key];
    if (SESSION_NAMES.has(name)) p.fill(OI.SESSION_ID, a[key]);
    if (USER_NAMES.has(name)) p.fill(OI.USER_ID, a[key]);
  }
  const functionId = a['ai.telemetry.functionId'];
  if (functionId !== undefined) (meta ??= {}).functionId = functionId;
  if (meta) p.fill(OI.METADATA, JSON.stringify(meta));
}

function fillIo(p: Patch, input: string | undefined, output: string | undefined): void {
  if (input !== undefined && !p.has(OI.INPUT_VALUE)) {
    p.fill(OI.INPUT_VALUE, input);
    p.fill(OI.INPUT_MIME_TYPE, looksJson(input) ? 'application/json' : 'text/plain');
  }
  if (output !== undefined && !p.has(OI.OUTPUT_VALUE)) {
    p.fill(OI.OUTPUT_VALUE, output);
    p.fill(OI.OUTPUT_MIME_TYPE, looksJson(output) ? 'application/json' : 'text/plain');
  }
}

const looksJson = (s: string) => s.startsWith('{') || s.startsWith('[');

/** Agent, tool and chain spans: names and their input/output. */
export function fillNonLlm(p: Patch, a: Attributes, kind: OiSpanKind | undefined): void {
  p.fill(OI.AGENT_NAME, a['gen_ai.agent.name']);
  const entity = a['traceloop.entity.name'];
  if (kind === 'AGENT') p.fill(OI.AGENT_NAME, entity);
  if (kind === 'TOOL') {
    p.fill(OI.TOOL_NAME, a['gen_ai.tool.name'] ?? a['ai.toolCall.name'] ?? entity);
    p.fill(OI.TOOL_DESCRIPTION, a['gen_ai.tool.description']);
    p.fill(OI.TOOL_CALL_ID, a['gen_ai.tool.call.id'] ?? a['ai.toolCall.id']);
    fillIo(p, a['gen_ai.tool.call.arguments'] ?? a['ai.toolCall.args'] ?? a['ai.toolCall.input'], a['gen_ai.tool.call.result'] ?? a['ai.toolCall.result'] ?? a['ai.toolCall.output']);
  }
  // OpenLLMetry workflow/task/agent/tool spans and the AI SDK's outer spans.
  fillIo(p, a['traceloop.entity.input'] ?? a['ai.prompt'], a['traceloop.entity.output'] ?? a['ai.response.text'] ?? a['ai.response.object']);
}
