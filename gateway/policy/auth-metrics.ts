/**
 * Authentication and authorization refusals by reason: why clients were turned away (401: no,
 * malformed, unknown, revoked or expired key; 403: a route or model the key may not use). Label
 * values come from fixed lists, never from a key, its name or anything a client sent.
 */
import { Counter } from '../../common/metrics/registry.js';
import type { AuthRefusal } from './authenticate.js';
import type { Denial } from './authorize.js';

export interface AuthMetrics {
  refused(reason: AuthRefusal | Denial): void;
  /** Prometheus exposition text (no trailing newline). */
  render(): string;
}

export function buildAuthMetrics(): AuthMetrics {
  const refusals = new Counter(
    'tracegate_gateway_auth_refusals_total',
    'Requests refused by authentication (401: missing, malformed, unknown, revoked, expired key) or authorization (403: route, model)',
    ['reason'],
  );
  return {
    refused: (reason) => refusals.inc([reason]),
    render: () => refusals.render(),
  };
}
