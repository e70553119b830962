/**
 * Metric label values a client can choose are bounded, so no client can grow `/metrics` (and the
 * Prometheus series behind it) without limit. A model name is a label value as is when the
 * configuration names it; names that only a glob or a catch-all rule matched, and response models
 * an upstream reported, share a budget of `UNNAMED_MODEL_LABELS` distinct values (first come),
 * after which they are all `other`.
 */

export const UNNAMED_MODEL_LABELS = 50;
export const OTHER_LABEL = 'other';

export class ModelLabels {
  private named: ReadonlySet<string> = new Set();
  private readonly seen = new Set<string>();

  constructor(private readonly max = UNNAMED_MODEL_LABELS) {}

  /** The model names the serving configuration spells out (replaced on reload). */
  setNamed(names: Iterable<string>): void {
    this.named = new Set(names);
  }

  /** The label value for a model name. */
  of(model: string): string {
    if (model === '' || this.named.has(model) || this.seen.has(model)) return model;
    if (this.seen.size >= this.max) return OTHER_LABEL;
    this.seen.add(model);
    return model;
  }
}
