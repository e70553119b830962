/**
 * OpenAI's wire shapes, as the API writes them: chat completions (object and chunks, usage
 * chunk last with `choices: []` when `stream_options.include_usage`), embeddings (floats or
 * base64 float32, as the openai SDK asks by default), Responses (object and typed events).
 */
import { fragments, pieces } from './stub.js';
import { stubId, type StubReply, type StubUsage } from './reply.js';

const sse = (data: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

export function chatUsage(u: StubUsage): Record<string, unknown> {
  const prompt = u.input + (u.cacheRead ?? 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function toolCalls(reply: StubReply) {
  return (reply.toolCalls ?? []).map((c) => ({ id: c.id ?? stubId('call_'), type: 'function', function: { name: c.name, arguments: c.arguments } }));
}

function finishOf(reply: StubReply): string {
  return reply.finishReason ?? (reply.toolCalls?.length ? 'tool_calls' : 'stop');
}

export function chatCompletion(body: any, model: string, reply: StubReply, usage: StubUsage | undefined, created: number) {
  const n = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
  const calls = toolCalls(reply);
  const message: Record<string, unknown> = { role: 'assistant', content: reply.text ?? null, refusal: null, annotations: [] };
  if (calls.length > 0) message.tool_calls = calls;
  const out: Record<string, unknown> = {
    id: stubId('chatcmpl-'),
    object: 'chat.completion',
    created,
    model,
    choices: Array.from({ length: n }, (_, index) => ({ index, message, logprobs: null, finish_reason: finishOf(reply) })),
    service_tier: 'default',
    system_fingerprint: 'fp_stub',
  };
  if (usage) out.usage = chatUsage(usage);
  return out;
}

/** The frames of a chat stream, `[DONE]` included. `usage` undefined: the server sends none. */
export function chatChunks(body: any, model: string, reply: StubReply, usage: StubUsage | undefined, created: number): string[] {
  const id = stubId('chatcmpl-');
  const withUsage = usage !== undefined && body.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => {
    const c: Record<string, unknown> = { id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_stub', choices, ...extra };
    if (withUsage && !('usage' in extra)) c.usage = null;
    return sse(c);
  };
  const delta = (d: Record<string, unknown>) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: null }]);
  const frames: string[] = [];
  const calls = toolCalls(reply);
  if (calls.length > 0) {
    calls.forEach((c, index) => {
      const head = { index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } };
      frames.push(index === 0 ? delta({ role: 'assistant', content: null, tool_calls: [head], refusal: null }) : delta({ tool_calls: [head] }));
      for (const f of fragments(c.function.arguments)) frames.push(delta({ tool_calls: [{ index, function: { arguments: f } }] }));
    });
  } else {
    frames.push(delta({ role: 'assistant', content: '', refusal: null }));
    for (const p of pieces(reply.text ?? '')) frames.push(delta({ content: p }));
  }
  frames.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishOf(reply) }]));
  if (withUsage) frames.push(chunk([], { usage: chatUsage(usage) }));
  frames.push('data: [DONE]\n\n');
  return frames;
}

/** A deterministic vector per input, unit length. */
function vector(input: unknown, dims: number): number[] {
  const text = JSON.stringify(input);
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const v = Array.from({ length: dims }, (_, i) => Math.sin(h + i * 7919));
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.fround(x / norm));
}

export function embeddings(body: any, model: string, dims: number, usage: StubUsage | undefined) {
  const inputs: unknown[] = Array.isArray(body.input) && body.input.some((x: unknown) => typeof x !== 'number') ? body.input : [body.input];
  const data = inputs.map((input, index) => {
    const v = vector(input, dims);
    const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
    return { object: 'embedding', index, embedding };
  });
  const out: Record<string, unknown> = { object: 'list', data, model };
  if (usage) out.usage = { prompt_tokens: usage.input, total_tokens: usage.input };
  return out;
}

function responseObject(id: string, model: string, created: number, reply: StubReply, usage: StubUsage | undefined, status: string) {
  const output: unknown[] = [];
  if (reply.text !== undefined && status === 'completed') {
    output.push({ type: 'message', id: `msg_${id}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: reply.text, annotations: [], logprobs: [] }] });
  }
  if (status === 'completed') {
    for (const c of reply.toolCalls ?? []) {
      output.push({ type: 'function_call', id: `fc_${id}`, call_id: c.id ?? stubId('call_'), name: c.name, arguments: c.arguments, status: 'completed' });
    }
  }
  const u =
    usage && status === 'completed'
      ? {
          input_tokens: usage.input + (usage.cacheRead ?? 0),
          input_tokens_details: { cached_tokens: usage.cacheRead ?? 0 },
          output_tokens: usage.output,
          output_tokens_details: { reasoning_tokens: usage.reasoning ?? 0 },
          total_tokens: usage.input + (usage.cacheRead ?? 0) + usage.output,
        }
      : null;
  return {
    id,
    object: 'response',
    created_at: created,
    status,
    error: null,
    incomplete_details: null,
    instructions: null,
    model,
    output,
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    temperature: 1,
    top_p: 1,
    usage: u,
    metadata: {},
  };
}

export function response(model: string, reply: StubReply, usage: StubUsage | undefined, created: number) {
  return responseObject(stubId('resp_'), model, created, reply, usage, 'completed');
}

/** The Responses event sequence for a text answer (tool calls appear only in the final object). */
export function responseEvents(model: string, reply: StubReply, usage: StubUsage | undefined, created: number): string[] {
  const id = stubId('resp_');
  let seq = 0;
  const ev = (type: string, fields: Record<string, unknown>) => sse({ type, sequence_number: seq++, ...fields }, type);
  const text = reply.text ?? '';
  const itemId = `msg_${id}`;
  const frames = [
    ev('response.created', { response: responseObject(id, model, created, reply, usage, 'in_progress') }),
    ev('response.in_progress', { response: responseObject(id, model, created, reply, usage, 'in_progress') }),
    ev('response.output_item.added', { output_index: 0, item: { type: 'message', id: itemId, status: 'in_progress', role: 'assistant', content: [] } }),
    ev('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
  ];
  for (const p of pieces(text)) frames.push(ev('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta: p, logprobs: [] }));
  const part = { type: 'output_text', text, annotations: [] };
  frames.push(
    ev('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }),
    ev('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part }),
    ev('response.output_item.done', { output_index: 0, item: { type: 'message', id: itemId, status: 'completed', role: 'assistant', content: [part] } }),
    ev('response.completed', { response: responseObject(id, model, created, reply, usage, 'completed') }),
  );
  return frames;
}
