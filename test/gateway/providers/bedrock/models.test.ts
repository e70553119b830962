/** OpenInference `llm.system` of Bedrock model ids: the vendor, through profiles and ARNs. */
import { describe, expect, it } from 'vitest';
import { bedrockSystem } from '../../../../gateway/providers/bedrock/models.js';

describe('llm.system of a Bedrock model id', () => {
  it.each([
    ['anthropic.claude-sonnet-4-20250514-v1:0', 'anthropic'],
    ['us.anthropic.claude-3-7-sonnet-20250219-v1:0', 'anthropic'],
    ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic'],
    ['us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0', 'anthropic'],
    ['amazon.nova-pro-v1:0', 'amazon'],
    ['apac.amazon.nova-micro-v1:0', 'amazon'],
    ['meta.llama3-1-70b-instruct-v1:0', 'meta'],
    ['mistral.mistral-large-2407-v1:0', 'mistralai'],
    ['cohere.command-r-plus-v1:0', 'cohere'],
    ['ai21.jamba-1-5-large-v1:0', 'ai21'],
    ['us.deepseek.r1-v1:0', 'deepseek'],
    ['openai.gpt-oss-120b-1:0', 'openai'],
    ['qwen.qwen3-32b-v1:0', 'qwen'],
    ['arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-3-70b-instruct-v1:0', 'meta'],
    ['arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1', 'amazon'],
    ['arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123xyz', 'amazon'],
  ])('%s → %s', (model, system) => {
    expect(bedrockSystem(model)).toBe(system);
  });
});
