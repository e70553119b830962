import { OI } from '../../../common/semconv.js';
import type { HideFlags } from '../config.js';

/**
 * What the hide rules do to one attribute: keep it, replace its value with `__REDACTED__`, drop
 * it, or redact it when the value holds an image (a JSON message list under HIDE_INPUT_IMAGES).
 */
export type Action = 'keep' | 'redact' | 'drop' | 'redactIfImage';

const IN_MSG = `${OI.LLM_INPUT_MESSAGES}.`;
const OUT_MSG = `${OI.LLM_OUTPUT_MESSAGES}.`;
const TEXT = `.${OI.MESSAGE_CONTENT}`;
const PART_TEXT = `.${OI.MESSAGE_CONTENT_TEXT}`;
const IMAGE_URL = `.${OI.MESSAGE_CONTENT_IMAGE}.${OI.IMAGE_URL}`;
const TOOLS = `${OI.LLM_TOOLS}.`;
const EMBEDDINGS = `${OI.EMBEDDING_EMBEDDINGS}.`;
const EMBEDDING_VECTOR = `.${OI.EMBEDDING_VECTOR}`;
const EMBEDDING_TEXT = `.${OI.EMBEDDING_TEXT}`;
const isText = (k: string) => k.endsWith(TEXT) || k.endsWith(PART_TEXT);
const isImage = (k: string) => k.endsWith(IMAGE_URL);

/**
 * The OpenInference masking rules (spec/configuration.md), extended to the same content under
 * the other conventions' keys. Flattened OpenInference lists are dropped as the instrumentations
 * do; single values (input.value, GenAI JSON messages, AI SDK prompts) become `__REDACTED__`.
 * JSON message blobs are hidden whole when any of their text or images is to be hidden.
 */
export function hideAction(key: string, h: HideFlags): Action {
  if (key === OI.INPUT_VALUE) return h.inputs ? 'redact' : 'keep';
  if (key === OI.INPUT_MIME_TYPE) return h.inputs ? 'drop' : 'keep';
  if (key === OI.OUTPUT_VALUE) return h.outputs ? 'redact' : 'keep';
  if (key === OI.OUTPUT_MIME_TYPE) return h.outputs ? 'drop' : 'keep';
  if (key.startsWith(IN_MSG)) {
    if (h.inputs || h.inputMessages) return 'drop';
    if (h.inputText && isText(key)) return 'redact';
    if (h.inputImages && isImage(key)) return 'redact';
    return 'keep';
  }
  if (key.startsWith(OUT_MSG)) {
    if (h.outputs || h.outputMessages) return 'drop';
    return h.outputText && isText(key) ? 'redact' : 'keep';
  }
  if (key === OI.LLM_INVOCATION_PARAMETERS) return h.llmInvocationParameters ? 'drop' : 'keep';
  if (key.startsWith(TOOLS)) return h.llmTools || h.inputs ? 'drop' : 'keep';
  if (key.startsWith('llm.prompts.')) return h.prompts || h.inputs ? 'drop' : 'keep';
  if (key.startsWith('llm.choices.')) return h.choices || h.outputs ? 'drop' : 'keep';
  if (key.startsWith(EMBEDDINGS)) {
    if (h.embeddingsVectors && key.endsWith(EMBEDDING_VECTOR)) return 'drop';
    if (h.embeddingsText && key.endsWith(EMBEDDING_TEXT)) return 'redact';
    return 'keep';
  }
  return otherConventions(key, h);
}

const anyInput = (h: HideFlags) => h.inputs || h.inputMessages || h.inputText;
const anyOutput = (h: HideFlags) => h.outputs || h.outputMessages || h.outputText;

/** GenAI, OpenLLMetry and AI SDK content keys. */
function otherConventions(key: string, h: HideFlags): Action {
  switch (key) {
    case 'gen_ai.input.messages':
    case 'gen_ai.system_instructions':
    case 'ai.prompt.messages':
      if (anyInput(h)) return 'redact';
      return h.inputImages ? 'redactIfImage' : 'keep';
    case 'gen_ai.output.messages':
    case 'ai.response.text':
    case 'ai.response.toolCalls':
    case 'ai.response.object':
      return anyOutput(h) ? 'redact' : 'keep';
    case 'gen_ai.prompt': // deprecated single-attribute forms
    case 'ai.prompt':
      return anyInput(h) || h.prompts ? 'redact' : 'keep';
    case 'gen_ai.completion':
      return anyOutput(h) || h.choices ? 'redact' : 'keep';
    case 'traceloop.entity.input':
    case 'gen_ai.tool.call.arguments':
    case 'ai.toolCall.args':
    case 'ai.toolCall.input':
      return h.inputs ? 'redact' : 'keep';
    case 'traceloop.entity.output':
    case 'gen_ai.tool.call.result':
    case 'ai.toolCall.result':
    case 'ai.toolCall.output':
      return h.outputs ? 'redact' : 'keep';
    case 'gen_ai.tool.definitions':
    case 'ai.prompt.tools':
      return h.llmTools || h.inputs ? 'redact' : 'keep';
    case 'ai.embedding':
    case 'ai.embeddings':
      return h.embeddingsVectors ? 'drop' : 'keep';
    case 'ai.value':
    case 'ai.values':
      return h.embeddingsText ? 'redact' : 'keep';
    default:
      break;
  }
  if (key.startsWith('gen_ai.prompt.')) {
    if (h.inputs || h.inputMessages) return 'drop';
    return h.inputText && key.endsWith('.content') ? 'redact' : 'keep';
  }
  if (key.startsWith('gen_ai.completion.')) {
    if (h.outputs || h.outputMessages) return 'drop';
    return h.outputText && key.endsWith('.content') ? 'redact' : 'keep';
  }
  return 'keep';
}

export const anyHidden = (h: HideFlags) => Object.values(h).some(Boolean);

/** A JSON message list that carries an image part (GenAI blob/uri parts, AI SDK image/file parts). */
export const holdsImage = (v: string) => v.includes('"image') || v.includes('image/');
