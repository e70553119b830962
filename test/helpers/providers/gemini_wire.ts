/**
 * Gemini's wire format for the stand-in (gemini.ts): what a request may hold (checked the way the
 * API refuses unknown fields), the deterministic reply to a `generateContent` body, and the
 * answers: a `GenerateContentResponse`, its `alt=sse` chunks, embeddings, errors.
 */
import { DEFAULT_JSON, DEFAULT_TEXT, DEFAULT_TOOL_ARGS, stubId, type StubReply, type StubUsage } from './reply.js';
import { type FailSpec, pieces, roughTokens } from './stub.js';

/** A prompt holding this word is blocked (`promptFeedback.blockReason: SAFETY`, no candidates). */
export const BLOCK_WORD = 'BLOCK_ME';
/** A prompt holding this word gets a candidate stopped by the safety filter mid-answer. */
export const SAFETY_STOP_WORD = 'UNSAFE_ANSWER';

const STATUS: Record<number, [string, string]> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'],
  403: ['PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  500: ['INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
};

export function googleErrorBody(spec: FailSpec) {
  const [status, message] = STATUS[spec.status] ?? [spec.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT', `Error ${spec.status}`];
  const error: Record<string, unknown> = { code: spec.status, message: spec.message ?? message, status };
  if (spec.status === 429) {
    const delay = typeof spec.retryAfter === 'number' ? spec.retryAfter : 0;
    error.details = [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${delay}s` }];
  }
  return { error };
}

const TOP = new Set(['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig', 'safetySettings', 'cachedContent', 'labels']);
const GENERATION = new Set([
  'temperature',
  'topP',
  'topK',
  'candidateCount',
  'maxOutputTokens',
  'stopSequences',
  'seed',
  'presencePenalty',
  'frequencyPenalty',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'responseLogprobs',
  'logprobs',
  'thinkingConfig',
  'responseModalities',
]);
const PART = new Set(['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'thought', 'thoughtSignature', 'executableCode', 'codeExecutionResult', 'videoMetadata']);
const DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'];

const unknown = (name: string, at: string) => `Invalid JSON payload received. Unknown name "${name}" at '${at}': Cannot find field.`;

function partProblem(p: any, at: string): string | undefined {
  if (typeof p !== 'object' || p === null) return `${at}: must be an object`;
  for (const k of Object.keys(p)) if (!PART.has(k)) return unknown(k, at);
  if (DATA.filter((k) => p[k] !== undefined).length !== 1) return `${at}: a part must hold exactly one of ${DATA.join(', ')}`;
  if (p.functionCall && typeof p.functionCall.name !== 'string') return `${at}.function_call.name: required`;
  if (p.functionResponse && (typeof p.functionResponse.name !== 'string' || typeof p.functionResponse.response !== 'object')) return `${at}.function_response: name and response required`;
  if (p.inlineData && (typeof p.inlineData.mimeType !== 'string' || typeof p.inlineData.data !== 'string')) return `${at}.inline_data: mime_type and data required`;
  return undefined;
}

/** The first problem the real API would report about a `generateContent` body, or undefined. */
export function validateGenerateRequest(body: any): string | undefined {
  if (typeof body !== 'object' || body === null) return 'Invalid JSON payload received.';
  for (const k of Object.keys(body)) if (!TOP.has(k)) return unknown(k, '');
  if (!Array.isArray(body.contents) || body.contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified';
  for (const [i, c] of body.contents.entries()) {
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model') return `Please use a valid role: user, model.`;
    if (!Array.isArray(c.parts) || c.parts.length === 0) return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`;
    for (const [j, p] of c.parts.entries()) {
      const problem = partProblem(p, `contents[${i}].parts[${j}]`);
      if (problem) return problem;
    }
  }
  for (const k of Object.keys(body.generationConfig ?? {})) if (!GENERATION.has(k)) return unknown(k, 'generation_config');
  const t = body.generationConfig?.temperature;
  if (t !== undefined && (t < 0 || t > 2)) return '* GenerateContentRequest.generation_config.temperature: must be in [0, 2]';
  if ((body.generationConfig?.stopSequences?.length ?? 0) > 5) return '* GenerateContentRequest.generation_config.stop_sequences: at most 5';
  for (const tool of body.tools ?? []) {
    for (const d of tool.functionDeclarations ?? []) {
      if (typeof d.name !== 'string') return '* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty.';
      if (d.parameters !== undefined && d.parametersJsonSchema !== undefined) return 'parameters and parameters_json_schema are mutually exclusive';
    }
  }
  return undefined;
}

const textOf = (body: any): string => JSON.stringify(body?.contents ?? []);

/** The deterministic reply to a `generateContent` body (as reply.ts's defaultReply does for OpenAI bodies). */
export function geminiReply(body: any): StubReply {
  const contents: any[] = body?.contents ?? [];
  const last = contents[contents.length - 1];
  const answeringTool = Array.isArray(last?.parts) && last.parts.some((p: any) => p?.functionResponse);
  const decls: any[] = (body?.tools ?? []).flatMap((t: any) => t.functionDeclarations ?? []);
  const fc = body?.toolConfig?.functionCallingConfig;
  if (decls.length > 0 && !answeringTool && fc?.mode !== 'NONE') {
    const name = fc?.allowedFunctionNames?.[0] ?? decls[0].name;
    return { toolCalls: [{ name, arguments: DEFAULT_TOOL_ARGS }] };
  }
  if (body?.generationConfig?.responseMimeType === 'application/json') return { text: DEFAULT_JSON };
  if (textOf(body).includes(SAFETY_STOP_WORD)) return { text: 'I can start', finishReason: 'SAFETY' };
  return { text: DEFAULT_TEXT };
}

export function usageMetadata(u: StubUsage, output = u.output) {
  const reasoning = Math.min(u.reasoning ?? 0, output);
  const m: Record<string, unknown> = {
    promptTokenCount: u.input + (u.cacheRead ?? 0),
    candidatesTokenCount: output - reasoning,
    totalTokenCount: u.input + (u.cacheRead ?? 0) + output,
  };
  if (u.cacheRead) m.cachedContentTokenCount = u.cacheRead;
  if (reasoning) m.thoughtsTokenCount = reasoning;
  return m;
}

function parts(reply: StubReply): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (reply.text) out.push({ text: reply.text });
  for (const [i, c] of (reply.toolCalls ?? []).entries()) {
    const part: Record<string, unknown> = { functionCall: { name: c.name, args: JSON.parse(c.arguments || '{}') } };
    // Thinking models sign their first call; a client must send it back with the call.
    if (i === 0) part.thoughtSignature = Buffer.from(`sig-${c.name}`).toString('base64');
    out.push(part);
  }
  return out;
}

const finishOf = (reply: StubReply) => reply.finishReason ?? 'STOP';

/** A whole `GenerateContentResponse` (or the blocked-prompt answer). */
export function generateResponse(model: string, body: any, reply: StubReply, usage: StubUsage) {
  const base = { usageMetadata: usageMetadata(usage), modelVersion: model, responseId: stubId('resp') };
  if (textOf(body).includes(BLOCK_WORD))
    return { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: usage.input, totalTokenCount: usage.input }, modelVersion: model, responseId: base.responseId };
  const n = body?.generationConfig?.candidateCount ?? 1;
  const candidates = Array.from({ length: n }, (_, index) => ({ content: { parts: parts(reply), role: 'model' }, finishReason: finishOf(reply), index }));
  return { candidates, ...base };
}

/** The `alt=sse` chunks of an answer: text piece by piece, calls whole, the last with finishReason and full usage. */
export function generateChunks(model: string, body: any, reply: StubReply, usage: StubUsage): Record<string, unknown>[] {
  const whole = generateResponse(model, body, reply, usage) as any;
  if (!whole.candidates) return [whole];
  const id = whole.responseId;
  const chunk = (ps: unknown[], out: number, finish?: string) => {
    const c: Record<string, unknown> = { content: { parts: ps, role: 'model' }, index: 0 };
    if (finish) c.finishReason = finish;
    return { candidates: [c], usageMetadata: usageMetadata(usage, out), modelVersion: model, responseId: id };
  };
  const textPieces = pieces(reply.text ?? '');
  const out: Record<string, unknown>[] = [];
  let produced = 0;
  for (const p of textPieces) {
    produced = Math.min(usage.output, produced + roughTokens(p));
    out.push(chunk([{ text: p }], produced));
  }
  const calls = parts({ toolCalls: reply.toolCalls });
  if (calls.length > 0) out.push(chunk(calls, produced));
  const last = out.pop() ?? chunk([{ text: '' }], 0);
  const finalCandidate = (last.candidates as any[])[0];
  finalCandidate.finishReason = finishOf(reply);
  last.usageMetadata = usageMetadata(usage);
  out.push(last);
  return out;
}

/** A deterministic vector of `dims` numbers for a text. */
export function vectorOf(text: string, dims: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return Array.from({ length: dims }, (_, i) => Number((((h >>> (i % 24)) & 0xff) / 255 - 0.5).toFixed(6)));
}

export const sseChunk = (data: unknown) => `data: ${JSON.stringify(data)}\r\n\r\n`;
