/**
 * Chat Completions, OpenAI client → Bedrock: Converse by default, InvokeModel with the Anthropic
 * Messages body when the backend says `api: invoke` (options.ts). The answer tells which API
 * sent it (an Anthropic `message`, or Converse's `output`), so reading it needs no state.
 */
import { AnthropicChatStream } from '../../anthropic/chat/openai_anthropic_stream.js';
import { translateMessage } from '../../anthropic/chat/openai_anthropic.js';
import { badUpstreamBody } from '../../shared/errors.js';
import { answerObject } from '../../shared/helpers.js';
import type { ResponseResult, Translator } from '../../types.js';
import { invokeChatRequest } from '../invoke.js';
import { bedrockOptions } from '../options.js';
import { BedrockStream } from '../stream.js';
import { converseRequest, converseResponse } from './openai_bedrock_converse.js';

export const chatOpenAIBedrock: Translator = {
  endpoint: 'chat',
  clientApi: 'openai',
  backendKind: 'bedrock',
  request: (body, target, opts) => (bedrockOptions(target.backend).api === 'invoke' ? invokeChatRequest(body, target, opts) : converseRequest(body, target, opts)),
  response(_status, bodyText, ctx): ResponseResult {
    const answer = answerObject(bodyText, ctx);
    if (!answer) return { ok: false, error: badUpstreamBody('Bedrock answer') };
    if (answer.type !== 'message') return converseResponse(answer, ctx);
    const { json, facts } = translateMessage(answer, ctx);
    return { ok: true, body: JSON.stringify(json), json, ...facts };
  },
  stream: (ctx) => new BedrockStream(new AnthropicChatStream(ctx), 'openai', ctx),
};
