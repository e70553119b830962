/**
 * The ordered candidates for one call: one of the rule's weighted targets, then its fallbacks.
 * Pure: availability (circuit breakers, disabled backends) and randomness are passed in.
 */
import type { RuleConfig, TargetConfig } from '../config/model.js';

export interface Candidate {
  backend: string;
  /** The model name sent upstream. */
  model: string;
  /** True for entries of the rule's fallback list. */
  fallback: boolean;
}

/** Weighted choice; undefined when every weight is 0 or the list is empty. */
export function pickWeighted<T extends { weight: number }>(items: readonly T[], random: () => number): T | undefined {
  let total = 0;
  for (const t of items) total += t.weight;
  if (total <= 0) return undefined;
  let r = random() * total;
  for (const t of items) {
    if (t.weight <= 0) continue;
    if (r < t.weight) return t;
    r -= t.weight;
  }
  return items.findLast((t) => t.weight > 0);
}

/**
 * The primary is drawn among targets whose backend is available, so an open circuit moves its
 * share to the others; unavailable ones are reported as skipped. When none is available the
 * fallbacks are all there is.
 */
export function planCandidates(rule: RuleConfig, model: string, available: (backend: string) => boolean, random: () => number): { candidates: Candidate[]; skipped: string[] } {
  const skipped: string[] = [];
  const up: TargetConfig[] = [];
  for (const t of rule.targets) {
    if (t.weight <= 0) continue;
    if (available(t.backend)) up.push(t);
    else if (!skipped.includes(t.backend)) skipped.push(t.backend);
  }
  const candidates: Candidate[] = [];
  const primary = pickWeighted(up, random);
  if (primary) candidates.push({ backend: primary.backend, model: primary.model ?? model, fallback: false });
  for (const f of rule.fallbacks) {
    const c = { backend: f.backend, model: f.model ?? model, fallback: true };
    if (candidates.some((x) => x.backend === c.backend && x.model === c.model)) continue;
    candidates.push(c);
  }
  return { candidates, skipped };
}
