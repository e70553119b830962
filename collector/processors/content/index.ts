import { REDACTED, TG } from '../../../common/semconv.js';
import type { Attributes, SpanEvent, SpanRecord } from '../../model.js';
import { copyAttrs } from '../attrs.js';
import type { ResolvedProcessorConfig } from '../config.js';
import { perSpan, type ProcessorCounters, type Stage, type StageContext } from '../context.js';
import { anyHidden, hideAction, holdsImage, type Action } from './hide.js';
import { isSecretKey, scrubValue } from './secrets.js';
import { truncateUtf8 } from './truncate.js';

const IMAGE_URL_SUFFIX = '.message_content.image.image.url';

interface Rules {
  config: ResolvedProcessorConfig;
  hiding: boolean;
  /** Hide decisions per key (keys repeat across spans; flags are fixed per processor). */
  actions: Map<string, Action>;
}

function actionFor(key: string, r: Rules): Action {
  if (!r.hiding) return 'keep';
  let a = r.actions.get(key);
  if (a === undefined) {
    a = hideAction(key, r.config.hide);
    if (r.actions.size < 20_000) r.actions.set(key, a);
  }
  return a;
}

/**
 * One attribute through the content rules: hide flags, over-long base64 images, credentials,
 * then the size limit. Answers the value to store, or undefined to drop the attribute.
 */
function contentValue(key: string, value: string, r: Rules, c: ProcessorCounters, cut: string[], prefix: string): string | undefined {
  const action = actionFor(key, r);
  if (action === 'drop') {
    c.redacted++;
    return undefined;
  }
  if (action === 'redact' || (action === 'redactIfImage' && holdsImage(value))) {
    c.redacted++;
    return REDACTED;
  }
  if (value.length > r.config.base64ImageMaxLength && key.endsWith(IMAGE_URL_SUFFIX) && value.startsWith('data:')) {
    c.redacted++;
    return REDACTED;
  }
  let v = value;
  if (r.config.scrubSecrets) {
    if (isSecretKey(key)) {
      c.secretsScrubbed++;
      return REDACTED;
    }
    const scrubbed = scrubValue(v);
    if (scrubbed !== v) c.secretsScrubbed++;
    v = scrubbed;
  }
  const short = truncateUtf8(v, r.config.maxAttributeBytes);
  if (short === undefined) return v;
  c.truncatedValues++;
  cut.push(prefix + key);
  return short;
}

/** Applies the rules to the map in place (the span's own map, see README "Contract"). */
function applyRules(attrs: Attributes, r: Rules, c: ProcessorCounters, cut: string[], prefix = ''): void {
  // Object.keys and an index: on these prototype-less (dictionary) maps a third cheaper than for-in.
  const keys = Object.keys(attrs);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = attrs[key];
    const next = contentValue(key, value, r, c, cut, prefix);
    if (next === value) continue;
    if (next === undefined) delete attrs[key];
    else attrs[key] = next;
  }
}

function contentSpan(span: SpanRecord, r: Rules, c: ProcessorCounters): SpanRecord {
  const cut: string[] = [];
  const attributes = span.attributes;
  applyRules(attributes, r, c, cut);
  span.events.forEach((e, i) => {
    hideEventContent(e, r, c);
    applyRules(e.attributes, r, c, cut, `events.${i}.`);
  });
  if (r.config.scrubSecrets) span.resourceAttributes = scrubResource(span.resourceAttributes, c);
  if (cut.length) {
    c.truncatedSpans++;
    const before = attributes[TG.TRUNCATED];
    attributes[TG.TRUNCATED] = before ? `${before},${cut.join(',')}` : cut.join(',');
  }
  return span;
}

/**
 * Resource attributes: credentials only (they are the SDK's, not content). One map is shared by
 * every span of a resource in a request, so it is copied, not changed, and the answer is
 * remembered per map; the count stays per span, as for span attributes.
 */
const scrubbedResources = new WeakMap<Attributes, readonly [Attributes, number]>();

function scrubResource(attrs: Attributes, c: ProcessorCounters): Attributes {
  let hit = scrubbedResources.get(attrs);
  if (!hit) {
    let out: Attributes | undefined;
    let n = 0;
    for (const key in attrs) {
      const v = attrs[key];
      const next = isSecretKey(key) ? REDACTED : scrubValue(v);
      if (next === v) continue;
      n++;
      (out ??= copyAttrs(attrs))[key] = next;
    }
    hit = [out ?? attrs, n];
    scrubbedResources.set(attrs, hit);
  }
  c.secretsScrubbed += hit[1];
  return hit[0];
}

/**
 * The deprecated GenAI per-message events carry the message in their own attributes
 * (`content`, `message`): hidden whole with the input or output messages.
 */
const INPUT_EVENTS = new Set(['gen_ai.system.message', 'gen_ai.user.message', 'gen_ai.assistant.message', 'gen_ai.tool.message']);

function hideEventContent(e: SpanEvent, r: Rules, c: ProcessorCounters): void {
  if (!r.hiding) return;
  const h = r.config.hide;
  const hidden = INPUT_EVENTS.has(e.name) ? h.inputs || h.inputMessages || h.inputText : e.name === 'gen_ai.choice' && (h.outputs || h.outputMessages || h.outputText);
  if (!hidden) return;
  const out = e.attributes;
  for (const key of ['content', 'message', 'tool_calls']) {
    if (out[key] !== undefined) {
      out[key] = REDACTED;
      c.redacted++;
    }
  }
}

const rulesByConfig = new WeakMap<ResolvedProcessorConfig, Rules>();

function rulesFor(config: ResolvedProcessorConfig): Rules {
  let r = rulesByConfig.get(config);
  if (!r) {
    r = { config, hiding: anyHidden(config.hide), actions: new Map() };
    rulesByConfig.set(config, r);
  }
  return r;
}

/** Hide flags, base64 image limit, credential scrubbing and the attribute size limit. */
export const contentStage: Stage = perSpan(
  (span, ctx: StageContext) => contentSpan(span, rulesFor(ctx.config), ctx.counters),
  // Attributes the rules could not be applied to might hold hidden text or a secret.
  (span) => ({ ...span, attributes: {}, resourceAttributes: {}, events: [], links: [], statusMessage: '' }),
);
