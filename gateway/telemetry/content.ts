/**
 * Content capture: prompt and answer text reaches a span only when the config says so, whole or
 * cut to a byte budget. Every attribute that may carry content goes through `Content.put`.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { ContentCapture } from '../config/schema.js';

export class Content {
  readonly truncated: string[] = [];

  constructor(
    readonly mode: ContentCapture,
    private readonly maxBytes: number,
  ) {}

  get on(): boolean {
    return this.mode !== 'off';
  }

  /** Sets a content-bearing string attribute (no-op when capture is off). */
  put(attrs: Attributes, key: string, value: string | undefined): void {
    if (value === undefined || this.mode === 'off') return;
    attrs[key] = this.mode === 'truncate' ? this.cut(key, value) : value;
  }

  private cut(key: string, value: string): string {
    // Fast path: a string cannot take more than 3 bytes per UTF-16 unit.
    if (value.length * 3 <= this.maxBytes || Buffer.byteLength(value) <= this.maxBytes) return value;
    this.truncated.push(key);
    // A cut inside a multi-byte character decodes to U+FFFD, which is fine for a preview.
    return Buffer.from(value).subarray(0, this.maxBytes).toString('utf8');
  }
}

/** Plain (non-content) attribute, skipping undefined. */
export function setAttr(attrs: Attributes, key: string, value: AttributeValue | undefined): void {
  if (value !== undefined) attrs[key] = value;
}
