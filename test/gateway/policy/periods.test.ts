/** Budget periods in a time zone: ids, first instants, DST days, month and year ends. */
import { describe, expect, it } from 'vitest';
import { dayAt, monthAt, Periods } from '../../../gateway/policy/periods.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('budget periods', () => {
  it.each([
    { at: '2026-12-05T12:00:00Z', tz: 'UTC', id: 'd:2026-12-05', start: '2026-12-05T00:00:00.000Z', end: '2026-12-06T00:00:00.000Z' },
    { at: '2026-12-05T23:30:00Z', tz: 'Europe/Berlin', id: 'd:2026-12-06', start: '2026-12-05T23:00:00.000Z', end: '2026-12-06T23:00:00.000Z' },
    { at: '2026-03-29T12:00:00Z', tz: 'Europe/Berlin', id: 'd:2026-03-29', start: '2026-03-28T23:00:00.000Z', end: '2026-03-29T22:00:00.000Z' }, // 23 h
    { at: '2026-11-01T12:00:00Z', tz: 'America/New_York', id: 'd:2026-11-01', start: '2026-11-01T04:00:00.000Z', end: '2026-11-02T05:00:00.000Z' }, // 25 h
    { at: '2026-06-01T12:00:00Z', tz: 'Asia/Kolkata', id: 'd:2026-06-01', start: '2026-05-31T18:30:00.000Z', end: '2026-06-01T18:30:00.000Z' },
  ])('day of $at in $tz', ({ at, tz, id, start, end }) => {
    const d = dayAt(Date.parse(at), tz);
    expect([d.id, iso(d.start), iso(d.end)]).toEqual([id, start, end]);
  });

  it.each([
    { at: '2026-12-31T22:59:59Z', tz: 'Europe/Berlin', id: 'm:2026-12', start: '2026-11-30T23:00:00.000Z', end: '2026-12-31T23:00:00.000Z' },
    { at: '2026-12-31T23:00:00Z', tz: 'Europe/Berlin', id: 'm:2027-01', start: '2026-12-31T23:00:00.000Z', end: '2027-01-31T23:00:00.000Z' },
    { at: '2027-02-15T00:00:00Z', tz: 'UTC', id: 'm:2027-02', start: '2027-02-01T00:00:00.000Z', end: '2027-03-01T00:00:00.000Z' },
  ])('month of $at in $tz', ({ at, tz, id, start, end }) => {
    const m = monthAt(Date.parse(at), tz);
    expect([m.id, iso(m.start), iso(m.end)]).toEqual([id, start, end]);
  });

  it('recomputes only when the day changes', () => {
    const p = new Periods('UTC');
    const a = p.at(Date.parse('2026-12-05T01:00:00Z'));
    expect(p.at(Date.parse('2026-12-05T23:59:59Z')).day).toBe(a.day);
    expect(p.at(Date.parse('2026-12-06T00:00:00Z')).day.id).toBe('d:2026-12-06');
  });
});
