/**
 * Budget periods: the day and the calendar month in a time zone (UTC unless configured), as
 * instants. A period's id names its ledger in the counter store; its start is where the spend
 * ledger is rebuilt from.
 */

export interface Period {
  /** `d:2026-12-05` or `m:2026-12`, in the zone's calendar. */
  readonly id: string;
  /** Epoch ms of the period's first instant. */
  readonly start: number;
  /** Epoch ms of the next period's first instant. */
  readonly end: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function format(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formats.set(tz, f);
  }
  return f;
}

/** The zone's wall clock at an instant, as fields. */
function wall(ms: number, tz: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const p: Record<string, number> = {};
  for (const part of format(tz).formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year, mo: p.month, d: p.day, h: p.hour, mi: p.minute, s: p.second };
}

/** The instant at which the zone's wall clock reads y-mo-d 00:00 (the first such, across DST). */
export function zonedMidnight(y: number, mo: number, d: number, tz: string): number {
  const target = Date.UTC(y, mo - 1, d);
  let guess = target;
  // Two corrections settle any offset, a third covers a DST change between guess and answer.
  for (let i = 0; i < 3; i++) {
    const w = wall(guess, tz);
    const seen = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
    if (seen === target) break;
    guess += target - seen;
  }
  return guess;
}

const pad = (n: number) => String(n).padStart(2, '0');

export function dayAt(ms: number, tz: string): Period {
  const w = wall(ms, tz);
  const start = zonedMidnight(w.y, w.mo, w.d, tz);
  const next = new Date(Date.UTC(w.y, w.mo - 1, w.d + 1));
  return { id: `d:${w.y}-${pad(w.mo)}-${pad(w.d)}`, start, end: zonedMidnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), tz) };
}

export function monthAt(ms: number, tz: string): Period {
  const w = wall(ms, tz);
  const start = zonedMidnight(w.y, w.mo, 1, tz);
  const next = new Date(Date.UTC(w.y, w.mo, 1));
  return { id: `m:${w.y}-${pad(w.mo)}`, start, end: zonedMidnight(next.getUTCFullYear(), next.getUTCMonth() + 1, 1, tz) };
}

/** Today's and this month's periods, recomputed only when the day changes. */
export class Periods {
  private day: Period | undefined;
  private month: Period | undefined;

  constructor(readonly timeZone: string) {}

  at(ms: number): { day: Period; month: Period } {
    if (!this.day || ms < this.day.start || ms >= this.day.end) {
      this.day = dayAt(ms, this.timeZone);
      this.month = monthAt(ms, this.timeZone);
    }
    return { day: this.day, month: this.month as Period };
  }
}
