/**
 * The requests spooled lately, by digest, so a retry of one whose answer was lost (the sender
 * timed out, or the collector was killed between the spool write and the answer) is
 * acknowledged without being stored twice. Two generations of at most `perGeneration` digests:
 * a digest is remembered for at least that many requests after it was added, memory stays
 * bounded, and forgetting costs nothing per request.
 */
export class RecentRequests {
  private current = new Set<string>();
  private previous = new Set<string>();

  constructor(private readonly perGeneration = 65_536) {}

  has(digest: string): boolean {
    return this.current.has(digest) || this.previous.has(digest);
  }

  add(digest: string): void {
    if (this.current.size >= this.perGeneration) {
      this.previous = this.current;
      this.current = new Set();
    }
    this.current.add(digest);
  }
}
