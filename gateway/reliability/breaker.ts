/**
 * A circuit breaker per backend. Closed: attempts flow, consecutive failures are counted. Open
 * (after `failures` in a row): the backend is skipped for `cooldown`. Then half-open: exactly one
 * probe is let through; its success closes the circuit, its failure opens it again.
 */
import type { BackendConfig } from '../config/model.js';
import type { CircuitBreakerSpec } from '../config/schema.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

/** Prometheus-friendly numbers for the state gauge. */
export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, open: 1, half_open: 2 };

export type Clock = () => number;

export class CircuitBreaker {
  private st: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(
    private spec: CircuitBreakerSpec,
    private readonly now: Clock,
    private readonly onChange: (state: CircuitState) => void = () => {},
  ) {}

  /** A reload may change thresholds; the state carries over. */
  update(spec: CircuitBreakerSpec): void {
    this.spec = spec;
    if (!spec.enabled) this.set('closed');
  }

  get state(): CircuitState {
    return this.st;
  }

  /** Whether an attempt would be let through now, without taking the probe slot. */
  available(): boolean {
    if (!this.spec.enabled || this.st === 'closed') return true;
    if (this.st === 'open') return this.now() - this.openedAt >= this.spec.cooldown;
    return !this.probing;
  }

  /** Takes permission for one attempt (the probe slot when half-open). */
  acquire(): boolean {
    if (!this.spec.enabled || this.st === 'closed') return true;
    if (this.st === 'open') {
      if (this.now() - this.openedAt < this.spec.cooldown) return false;
      this.set('half_open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  /** Milliseconds until an open circuit lets a probe through (0 when it would now). */
  retryInMs(): number {
    if (this.st !== 'open') return 0;
    return Math.max(0, this.openedAt + this.spec.cooldown - this.now());
  }

  success(): void {
    this.probing = false;
    this.failures = 0;
    this.set('closed');
  }

  failure(): void {
    this.probing = false;
    if (!this.spec.enabled) return;
    if (this.st === 'half_open' || ++this.failures >= this.spec.failures) {
      this.openedAt = this.now();
      this.failures = 0;
      this.set('open');
    }
  }

  /** The attempt ended without saying anything about the backend (the client went away). */
  release(): void {
    this.probing = false;
  }

  private set(state: CircuitState): void {
    if (state === this.st) return;
    this.st = state;
    this.onChange(state);
  }
}

/** Everything that says which upstream a backend is and how it is called; the breaker's own thresholds excluded. */
function definitionOf(b: BackendConfig): string {
  const { name: _n, circuitBreaker: _c, ...rest } = b;
  return JSON.stringify(rest);
}

/**
 * The breakers of all backends, kept across reloads by backend name. A backend whose definition
 * changed (URL, provider, headers, …) is another upstream: it starts closed, since its old
 * failures say nothing about it. A change of thresholds only keeps the state.
 */
export class Breakers {
  private readonly map = new Map<string, { breaker: CircuitBreaker; definition: string }>();

  constructor(
    private readonly now: Clock,
    private readonly onChange: (backend: string, state: CircuitState) => void = () => {},
  ) {}

  sync(backends: Iterable<BackendConfig>): void {
    const keep = new Set<string>();
    for (const b of backends) {
      keep.add(b.name);
      const definition = definitionOf(b);
      const existing = this.map.get(b.name);
      if (existing && existing.definition === definition) existing.breaker.update(b.circuitBreaker);
      else this.map.set(b.name, { breaker: new CircuitBreaker(b.circuitBreaker, this.now, (s) => this.onChange(b.name, s)), definition });
      if (existing && existing.definition !== definition && existing.breaker.state !== 'closed') this.onChange(b.name, 'closed');
    }
    for (const name of [...this.map.keys()]) if (!keep.has(name)) this.map.delete(name);
  }

  get(name: string): CircuitBreaker | undefined {
    return this.map.get(name)?.breaker;
  }

  *entries(): IterableIterator<[string, CircuitBreaker]> {
    for (const [name, { breaker }] of this.map) yield [name, breaker];
  }
}
