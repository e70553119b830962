import { describe, expect, it } from 'vitest';
import { type Linked, LiveList } from '../../../gateway/policy/live.js';

class T implements Linked<T> {
  prevLive: T | undefined;
  nextLive: T | undefined;
  constructor(readonly n: number) {}
}

const names = (l: LiveList<T>) => [...l].map((t) => t.n);

describe('LiveList', () => {
  it.each([
    { remove: [], left: [3, 2, 1] },
    { remove: [1], left: [3, 2] },
    { remove: [2], left: [3, 1] },
    { remove: [3], left: [2, 1] },
    { remove: [1, 2, 3], left: [] },
    { remove: [2, 2, 2], left: [3, 1] },
  ])('removing $remove leaves $left', ({ remove, left }) => {
    const ts = [new T(1), new T(2), new T(3)];
    const l = new LiveList<T>();
    for (const t of ts) l.add(t);
    for (const n of remove) l.delete(ts[n - 1]);
    expect(names(l)).toEqual(left);
    expect(l.size).toBe(left.length);
    // a ticket taken off keeps no link to the others
    for (const n of remove) expect([ts[n - 1].prevLive, ts[n - 1].nextLive]).toEqual([undefined, undefined]);
  });

  it('leaves alone a ticket that was never added', () => {
    const l = new LiveList<T>();
    const a = new T(1);
    l.add(a);
    l.delete(new T(2));
    expect(names(l)).toEqual([1]);
  });
});
