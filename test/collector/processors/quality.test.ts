import { describe, expect, it } from 'vitest';
import type { Attributes, SpanRecord } from '../../../collector/model.js';
import { qualityStage } from '../../../collector/processors/quality.js';
import { END_NS, span, stageContext } from './fixtures.js';

const llm = (attrs: Attributes): Attributes => ({ 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o', ...attrs });
const out0 = (content: string): Attributes => ({ 'llm.output_messages.0.message.role': 'assistant', 'llm.output_messages.0.message.content': content });
const jsonMode = { 'llm.invocation_parameters': JSON.stringify({ response_format: { type: 'json_object' } }) };

const signalsOf = (s: SpanRecord) => s.events.filter((e) => e.name === 'gen_ai.evaluation.result').map((e) => e.attributes['gen_ai.evaluation.name']);

const cases: Array<[name: string, s: SpanRecord, want: string[]]> = [
  ['clean answer: no signal', span(llm({ ...out0('Paris'), 'llm.finish_reason': 'stop' })), []],
  ['finish reason length: truncated', span(llm({ ...out0('Once upon a'), 'llm.finish_reason': 'length' })), ['truncated']],
  ['Anthropic max_tokens: truncated', span(llm({ ...out0('Once'), 'llm.finish_reason': 'max_tokens' })), ['truncated']],
  ['finish reason content_filter: filtered (not also empty)', span(llm({ ...out0(''), 'llm.finish_reason': 'content_filter' })), ['content_filtered']],
  ['recorded output that is blank and no tool call: empty', span(llm({ ...out0('  \n'), 'llm.finish_reason': 'stop' })), ['empty_output']],
  ['zero completion tokens and no output recorded: empty', span(llm({ 'llm.token_count.completion': '0' })), ['empty_output']],
  ['output not recorded at all (capture off): not judged', span(llm({ 'llm.token_count.completion': '12' })), []],
  [
    'only a tool call, no text: not empty',
    span(
      llm({
        'llm.output_messages.0.message.role': 'assistant',
        'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'f',
        'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"x":1}',
      }),
    ),
    [],
  ],
  ['json_object asked, prose returned: invalid_json', span(llm({ ...jsonMode, ...out0('Sure! {"a":1}') })), ['invalid_json']],
  ['json_schema asked, JSON returned: clean', span(llm({ 'llm.invocation_parameters': '{"response_format":{"type":"json_schema","json_schema":{}}}', ...out0(' {"a":1} ') })), []],
  ['gen_ai.output.type json, broken JSON: invalid_json', span(llm({ 'gen_ai.output.type': 'json', ...out0('{"a":') })), ['invalid_json']],
  ['output hidden by the SDK (__REDACTED__) is not judged', span(llm({ ...jsonMode, 'output.value': '__REDACTED__', 'output.mime_type': 'text/plain' })), []],
  ['JSON not asked: prose is fine', span(llm(out0('Sure!'))), []],
  ['plain-text output.value is judged when there are no output messages', span(llm({ ...jsonMode, 'output.value': 'not json', 'output.mime_type': 'text/plain' })), ['invalid_json']],
  [
    'tool-call arguments that do not parse: invalid_tool_arguments',
    span(llm({ 'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'f', 'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"city": "Par' })),
    ['invalid_tool_arguments'],
  ],
  [
    'empty tool-call arguments are a call without parameters',
    span(llm({ 'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'f', 'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '' })),
    [],
  ],
  ['error status on an LLM span', span(llm({}), { statusCode: 'Error', statusMessage: '429 rate limited' }), ['error']],
  ['error status on a TOOL span', span({ 'openinference.span.kind': 'TOOL' }, { statusCode: 'Error' }), ['error']],
  ['error status on a span outside OpenInference: not ours to judge', span({ 'http.method': 'GET' }, { statusCode: 'Error' }), []],
  ['finish reason length on a CHAIN span: only LLM spans are judged for content', span({ 'openinference.span.kind': 'CHAIN', 'llm.finish_reason': 'length' }), []],
  ['truncated JSON answer: both signals', span(llm({ ...jsonMode, ...out0('{"a": [1, 2'), 'llm.finish_reason': 'length' })), ['truncated', 'invalid_json']],
];

describe('quality stage: heuristic gen_ai.evaluation.result events', () => {
  it.each(cases)('%s', (_, s, want) => {
    const [out] = qualityStage([s], stageContext());
    expect(signalsOf(out)).toEqual(want);
    if (want.length === 0) expect(out).toBe(s);
  });

  it('writes the OpenTelemetry event shape at the span end time, with the response id', () => {
    const s = span(llm({ ...out0('Once'), 'llm.finish_reason': 'length', 'gen_ai.response.id': 'chatcmpl-1' }));
    const [out] = qualityStage([s], stageContext());
    expect(out.events).toEqual([
      {
        timeUnixNano: END_NS,
        name: 'gen_ai.evaluation.result',
        attributes: {
          'gen_ai.evaluation.name': 'truncated',
          'gen_ai.evaluation.score.value': '1',
          'gen_ai.evaluation.score.label': 'true',
          'gen_ai.evaluation.explanation': 'finish reason length: the output was cut at the token limit',
          'tracegate.evaluation.source': 'heuristic',
          'gen_ai.response.id': 'chatcmpl-1',
        },
      },
    ]);
    expect(out).toBe(s);
  });

  it('adds nothing when the batch goes through twice, and counts per signal', () => {
    const ctx = stageContext();
    const once = qualityStage([span(llm({ 'llm.finish_reason': 'length', ...out0('x') }), { statusCode: 'Error' })], ctx);
    const twice = qualityStage(once, ctx);
    expect(signalsOf(twice[0])).toEqual(['truncated', 'error']);
    expect(ctx.counters.signals).toMatchObject({ truncated: 1, error: 1, empty_output: 0 });
  });
});
