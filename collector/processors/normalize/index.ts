import { OI } from '../../../common/semconv.js';
import { TG } from '../../../common/semconv.js';
import type { SpanRecord } from '../../model.js';
import { Patch, applyPatch } from '../attrs.js';
import { perSpan, type Stage, type StageContext } from '../context.js';
import { detect, inferKind, seenList } from './detect.js';
import { fillContext, fillNonLlm } from './identity.js';
import { fillConversation, fillInvocationParameters, fillModel, fillTokens } from './llm.js';
import type { OiSpanKind } from '../../../common/semconv.js';

/**
 * Gives a span the OpenInference keys its other conventions imply (GenAI old and new names,
 * OpenLLMetry, the Vercel AI SDK), never overwriting a key it has, and records the conventions
 * seen in `tracegate.normalized_from`.
 */
export function normalizeSpan(span: SpanRecord, ctx: StageContext): SpanRecord {
  const a = span.attributes;
  const seen = detect(a);
  const list = seenList(seen);
  if (list.length === 0) return span;
  for (const c of list) ctx.counters.normalizedFrom[c]++;
  const p = new Patch(a);
  p.set(TG.NORMALIZED_FROM, list.join(','));
  const kind = (a[OI.SPAN_KIND] as OiSpanKind | undefined) ?? inferKind(span, seen);
  p.fill(OI.SPAN_KIND, kind);
  fillContext(p, a, seen);
  if (kind === 'LLM' || kind === 'EMBEDDING') {
    fillModel(p, a, kind === 'EMBEDDING');
    fillTokens(p, a, seen);
    // OpenLIT prices spans itself (`gen_ai.usage.cost`, USD): a cost on the span wins.
    if (!p.has(OI.COST_PROMPT) && !p.has(OI.COST_COMPLETION)) p.fill(OI.COST_TOTAL, a['gen_ai.usage.cost']);
    if (kind === 'LLM') {
      fillInvocationParameters(p, a);
      fillConversation(p, a, seen);
    }
  } else fillNonLlm(p, a, kind);
  return applyPatch(span, p);
}

export const normalizeStage: Stage = perSpan(normalizeSpan);
