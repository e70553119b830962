/**
 * A circuit breaker per backend. Closed: attempts flow, consecutive failures are counted. Open
 * (after `failures` in a row): the backend is skipped for `cooldown`. Then half-open: exactly one
 * probe is let through; its success closes the circuit, its failure opens it again.
 */
import { hash } from 'node:crypto';
import type { BackendConfig, GatewayConfig } from '../config/model.js';
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
    private readonly spec: CircuitBreakerSpec,
    private readonly now: Clock,
    private readonly onChange: (state: CircuitState) => void = () => {},
  ) {}

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

/** The backends of a configuration and their credentials (kept apart from them in GatewayConfig). */
export type BackendsOf = Pick<GatewayConfig, 'backends' | 'keys' | 'providerSecrets'>;

/**
 * A digest of everything a backend's document says: URL, provider, options, headers, the
 * breaker's own thresholds, and its resolved key and secrets (a digest, so no secret is kept).
 */
function definitionOf(config: BackendsOf, b: BackendConfig): string {
  const { name, ...rest } = b;
  const definition = JSON.stringify([rest, config.keys.get(name), config.providerSecrets?.get(name)]);
  return hash('sha256', definition, 'base64');
}

/**
 * The breakers of all backends, kept across reloads by backend name. A backend whose document
 * changed in any way (URL, provider, headers, key, thresholds, …) starts closed: its old failures
 * were counted against another upstream or other settings. An unchanged backend keeps its state.
 */
export class Breakers {
  private readonly map = new Map<string, { breaker: CircuitBreaker; definition: string }>();

  constructor(
    private readonly now: Clock,
    private readonly onChange: (backend: string, state: CircuitState) => void = () => {},
  ) {}

  sync(config: BackendsOf): void {
    for (const name of [...this.map.keys()]) if (!config.backends.has(name)) this.map.delete(name);
    for (const b of config.backends.values()) {
      const definition = definitionOf(config, b);
      const existing = this.map.get(b.name);
      if (existing?.definition === definition) continue;
      this.map.set(b.name, { breaker: new CircuitBreaker(b.circuitBreaker, this.now, (s) => this.onChange(b.name, s)), definition });
      if (existing && existing.breaker.state !== 'closed') this.onChange(b.name, 'closed');
    }
  }

  get(name: string): CircuitBreaker | undefined {
    return this.map.get(name)?.breaker;
  }

  *entries(): IterableIterator<[string, CircuitBreaker]> {
    for (const [name, { breaker }] of this.map) yield [name, breaker];
  }
}
