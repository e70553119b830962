/**
 * The tickets that hold a lease or a reservation while their call runs, for the renewal tick: a
 * list linked through the tickets themselves, not a Set. With a Set (one add and one delete a
 * call) the tickets, and the checks, states and headers they hold, outlived young-generation
 * collections and were promoted: about 1.4 MB per scavenge at ~4,000 calls/s, scavenges 2 -> 5 ms
 * (bench/README.md, Policy). A ticket taken off the list drops its links, so it keeps no
 * neighbour alive and none keeps it.
 */
export interface Linked<T> {
  prevLive: T | undefined;
  nextLive: T | undefined;
}

export class LiveList<T extends Linked<T>> {
  private first: T | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(t: T): void {
    t.prevLive = undefined;
    t.nextLive = this.first;
    if (this.first) this.first.prevLive = t;
    this.first = t;
    this.count++;
  }

  /** Takes `t` off the list; one not on it (never added, or taken off already) is left alone. */
  delete(t: T): void {
    if (t.prevLive === undefined && this.first !== t) return;
    if (t.prevLive) t.prevLive.nextLive = t.nextLive;
    else this.first = t.nextLive;
    if (t.nextLive) t.nextLive.prevLive = t.prevLive;
    t.prevLive = undefined;
    t.nextLive = undefined;
    this.count--;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let t = this.first; t; t = t.nextLive) yield t;
  }
}
