/**
 * Pooled ArrayBuffers that each hold one finished message and are exactly its length, for a
 * transport that wraps an ArrayBuffer whole (`Buffer.from(arrayBuffer)`: a view) but copies any
 * typed array. They are resizable ArrayBuffers, shrunk and grown in place; only `set` writes into
 * them. The writers never are: V8 compiles element stores into typed arrays over a resizable
 * ArrayBuffer to a generic runtime call, and the encoder's functions, shared by every writer,
 * would take that path for all of them (measured: a tenth of the gateway's CPU per call).
 */
export class ExactBuffers {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    /** The largest message kept in a pooled buffer; a larger one gets a plain copy. */
    private readonly maxBytes: number,
    /** Buffers kept for reuse. */
    private readonly keep: number,
  ) {}

  /** A buffer holding exactly the first `n` bytes of `src` (give it back with `release`). */
  take(src: Uint8Array, n: number): ArrayBuffer {
    if (n > this.maxBytes) return src.buffer.slice(src.byteOffset, src.byteOffset + n) as ArrayBuffer;
    const ab = this.free.pop() ?? new ArrayBuffer(n, { maxByteLength: this.maxBytes });
    ab.resize(n);
    new Uint8Array(ab).set(src.subarray(0, n));
    return ab;
  }

  /** Returns a buffer from `take` once nothing reads it any more. */
  release(ab: ArrayBuffer): void {
    if (ab.resizable && this.free.length < this.keep) this.free.push(ab);
  }
}
