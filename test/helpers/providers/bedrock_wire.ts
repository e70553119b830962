/**
 * Bedrock's wire, as the service writes and checks it, for the loopback stand-in (bedrock.ts):
 * SigV4 verification of a received request, event-stream messages (`@smithy/eventstream-codec`),
 * Converse answers and ConverseStream events, InvokeModel stream chunks, and the checks the
 * service makes of a Converse or InvokeModel body.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { validateMessagesRequest } from './anthropic.js';
import { type StubReply, type StubUsage, stubId } from './reply.js';
import { fragments, pieces } from './stub.js';

export interface TestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Why AWS would refuse the request's signature (its error type and message), or undefined. */
export interface AuthProblem {
  status: number;
  type: string;
  message: string;
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const SKEW_MS = 15 * 60 * 1000;

function amzDate(v: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : undefined;
}

const one = (h: string | string[] | undefined) => (Array.isArray(h) ? h.join(',') : h);

/**
 * Recomputes the request's SigV4 signature from the known credentials (`@smithy/signature-v4`,
 * over the headers the request says it signed and the exact body bytes) and compares.
 */
export async function verifySigV4(
  req: { method: string; rawPath: string; query: Record<string, string>; headers: IncomingHttpHeaders; body: Buffer },
  known: TestCredentials[],
  service = 'bedrock',
  now = Date.now(),
): Promise<AuthProblem | undefined> {
  const auth = one(req.headers.authorization);
  if (!auth) return { status: 403, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
  const m = AUTH_RE.exec(auth);
  if (!m) return { status: 403, type: 'IncompleteSignatureException', message: `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.` };
  const [, akid, day, region, svc, signedList, signature] = m;
  const creds = known.find((c) => c.accessKeyId === akid);
  if (!creds) return { status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  if (svc !== service) return { status: 403, type: 'InvalidSignatureException', message: `Credential should be scoped to correct service: '${service}'.` };
  const date = amzDate(one(req.headers['x-amz-date']) ?? '');
  if (!date || !signedList.split(';').includes('x-amz-date'))
    return { status: 403, type: 'IncompleteSignatureException', message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header." };
  if (Math.abs(now - date.getTime()) > SKEW_MS) return { status: 403, type: 'InvalidSignatureException', message: 'Signature expired.' };
  if (date.toISOString().slice(0, 10).replace(/-/g, '') !== day) return { status: 403, type: 'InvalidSignatureException', message: 'Credential should be scoped to a valid date.' };
  if (creds.sessionToken !== undefined && one(req.headers['x-amz-security-token']) !== creds.sessionToken) {
    return { status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  }
  const sha = one(req.headers['x-amz-content-sha256']);
  if (sha !== undefined && sha !== createHash('sha256').update(req.body).digest('hex')) {
    return { status: 400, type: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." };
  }
  const headers: Record<string, string> = {};
  for (const name of signedList.split(';')) {
    const v = one(req.headers[name]);
    if (v === undefined)
      return { status: 403, type: 'InvalidSignatureException', message: `The request signature we calculated does not match the signature you provided (signed header ${name} is missing).` };
    headers[name] = v;
  }
  const signer = new SignatureV4({ credentials: creds, region, service, sha256: Hash.bind(null, 'sha256'), applyChecksum: false });
  const signed = await signer.sign({ method: req.method, protocol: 'http:', hostname: 'ignored', path: req.rawPath, query: req.query, headers, body: req.body }, { signingDate: date });
  const expected = AUTH_RE.exec(String(signed.headers.authorization));
  if (!expected || expected[5] !== signedList || expected[6] !== signature) {
    return {
      status: 403,
      type: 'InvalidSignatureException',
      message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    };
  }
  return undefined;
}

const toUtf8 = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('utf8');
const fromUtf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
export const codec = new EventStreamCodec(toUtf8, fromUtf8);

const str = (value: string) => ({ type: 'string' as const, value });

/** Bedrock pads every stream payload with `p` (random letters of varying length, against size side channels). */
const pad = (n: number) => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.slice(0, 1 + (n % 60));

export function eventMessage(type: string, payload: Record<string, unknown>, i = 0): Buffer {
  const body = fromUtf8(JSON.stringify({ ...payload, p: pad(i * 7 + type.length) }));
  return Buffer.from(codec.encode({ headers: { ':event-type': str(type), ':content-type': str('application/json'), ':message-type': str('event') }, body }));
}

export function exceptionMessage(type: string, message: string): Buffer {
  const body = fromUtf8(JSON.stringify({ message }));
  return Buffer.from(codec.encode({ headers: { ':exception-type': str(type), ':content-type': str('application/json'), ':message-type': str('exception') }, body }));
}

/** Converse usage as the service reports it: `inputTokens` is fresh input; total counts cache reads and writes too. */
export function converseUsage(u: StubUsage): Record<string, number> {
  const out: Record<string, number> = { inputTokens: u.input, outputTokens: u.output, totalTokens: u.input + u.output + (u.cacheRead ?? 0) + (u.cacheWrite ?? 0) };
  if (u.cacheRead !== undefined) out.cacheReadInputTokens = u.cacheRead;
  if (u.cacheWrite !== undefined) out.cacheWriteInputTokens = u.cacheWrite;
  return out;
}

const stopOf = (reply: StubReply) => reply.finishReason ?? (reply.toolCalls?.length ? 'tool_use' : 'end_turn');

function converseBlocks(reply: StubReply): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (reply.text) out.push({ text: reply.text });
  for (const c of reply.toolCalls ?? []) out.push({ toolUse: { toolUseId: c.id ?? stubId('tooluse_'), name: c.name, input: JSON.parse(c.arguments || '{}') } });
  return out;
}

export function converseAnswer(reply: StubReply, usage: StubUsage): Record<string, unknown> {
  return {
    output: { message: { role: 'assistant', content: converseBlocks(reply) } },
    stopReason: stopOf(reply),
    usage: converseUsage(usage),
    metrics: { latencyMs: 42 },
  };
}

export function converseStreamEvents(reply: StubReply, usage: StubUsage): Buffer[] {
  const out: Buffer[] = [];
  const ev = (type: string, payload: Record<string, unknown>) => out.push(eventMessage(type, payload, out.length));
  ev('messageStart', { role: 'assistant' });
  converseBlocks(reply).forEach((b, contentBlockIndex) => {
    if (typeof b.text === 'string') {
      for (const p of pieces(b.text)) ev('contentBlockDelta', { contentBlockIndex, delta: { text: p } });
    } else {
      const tu = b.toolUse as { toolUseId: string; name: string; input: unknown };
      ev('contentBlockStart', { contentBlockIndex, start: { toolUse: { toolUseId: tu.toolUseId, name: tu.name } } });
      for (const f of fragments(JSON.stringify(tu.input))) ev('contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input: f } } });
    }
    ev('contentBlockStop', { contentBlockIndex });
  });
  ev('messageStop', { stopReason: stopOf(reply) });
  ev('metadata', { usage: converseUsage(usage), metrics: { latencyMs: 42 } });
  return out;
}

/** InvokeModel stream: each Anthropic event as a `chunk` whose `bytes` are its JSON in base64; metrics on message_stop. */
export function invokeChunks(anthropicEvents: Record<string, unknown>[], usage: StubUsage): Buffer[] {
  return anthropicEvents.map((e, i) => {
    const data =
      e.type === 'message_stop' ? { ...e, 'amazon-bedrock-invocationMetrics': { inputTokenCount: usage.input, outputTokenCount: usage.output, invocationLatency: 42, firstByteLatency: 7 } } : e;
    return eventMessage('chunk', { bytes: Buffer.from(JSON.stringify(data)).toString('base64') }, i);
  });
}

/** The Converse body as the neutral shape reply.ts reads (tools by name, tool results, forced tool). */
export function neutralOfConverse(body: any): any {
  const tools = (body.toolConfig?.tools ?? []).filter((t: any) => t.toolSpec).map((t: any) => ({ name: t.toolSpec.name }));
  const tc = body.toolConfig?.toolChoice;
  const messages = (body.messages ?? []).map((m: any) => ({
    role: m.role,
    content: (m.content ?? []).map((b: any) => (b.toolResult ? { type: 'tool_result' } : b.text !== undefined ? { type: 'text', text: b.text } : { type: 'other' })),
  }));
  return { messages, tools, tool_choice: tc?.tool ? { type: 'tool', name: tc.tool.name } : undefined, system: body.system };
}

const CONVERSE_KEYS = new Set([
  'messages',
  'system',
  'inferenceConfig',
  'toolConfig',
  'guardrailConfig',
  'additionalModelRequestFields',
  'additionalModelResponseFieldPaths',
  'promptVariables',
  'requestMetadata',
  'performanceConfig',
]);

function contentProblem(content: any, i: number): string | undefined {
  if (!Array.isArray(content) || content.length === 0) return `messages.${i}.content: at least one content block is required`;
  for (const b of content) {
    const keys = Object.keys(b ?? {});
    if (keys.length !== 1) return `messages.${i}.content: a content block has exactly one member`;
    if (typeof b.text === 'string' && b.text.trim() === '') return 'The text field in the ContentBlock object is blank. Add text to the text field, and try again.';
    if (b.image && !['png', 'jpeg', 'gif', 'webp'].includes(b.image.format)) return `messages.${i}: unsupported image format`;
  }
  return undefined;
}

/** The first problem Converse reports about a body (a ValidationException), or undefined. */
export function validateConverse(body: any): string | undefined {
  if (body === null || typeof body !== 'object') return 'Malformed request body';
  const extra = Object.keys(body).find((k) => !CONVERSE_KEYS.has(k));
  if (extra) return `Unknown field: ${extra}`;
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return 'The messages field is required and must contain at least one message.';
  let usesTools = false;
  for (const [i, m] of messages.entries()) {
    if (m?.role !== 'user' && m?.role !== 'assistant') return `messages.${i}.role: must be user or assistant`;
    if (i === 0 && m.role !== 'user') return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
    if (i > 0 && messages[i - 1].role === m.role)
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    const problem = contentProblem(m.content, i);
    if (problem) return problem;
    if (m.content.some((b: any) => b.toolUse || b.toolResult)) usesTools = true;
  }
  if (usesTools && !body.toolConfig) return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  const ic = body.inferenceConfig ?? {};
  if (ic.temperature !== undefined && (ic.temperature < 0 || ic.temperature > 1)) return 'inferenceConfig.temperature: must be between 0 and 1';
  if (ic.maxTokens !== undefined && (!Number.isInteger(ic.maxTokens) || ic.maxTokens < 1)) return 'inferenceConfig.maxTokens: must be at least 1';
  if (body.toolConfig && (!Array.isArray(body.toolConfig.tools) || body.toolConfig.tools.length === 0)) return 'toolConfig.tools: at least one tool is required';
  return undefined;
}

/** The first problem InvokeModel reports about a Claude body, or undefined. */
export function validateInvokeAnthropic(body: any, modelId: string): string | undefined {
  if (body === null || typeof body !== 'object') return 'Malformed input request, please reformat your input and try again.';
  if (body.anthropic_version !== 'bedrock-2023-05-31') return 'Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.';
  for (const k of ['model', 'stream']) if (k in body) return `Malformed input request: #: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  const problem = validateMessagesRequest({ ...body, model: modelId });
  return problem ? `Malformed input request: ${problem}` : undefined;
}
