/**
 * Long strings of a large body come back from the JSON thread as ranges of its text
 * (gateway/json-slices.ts): the value the event loop gets must be the one JSON.parse gives, for
 * every way a scan of the text could name the wrong place (repeated keys, escapes, long keys).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkJsonText } from '../../gateway/handlers/body.js';
import { cutLongStrings, longStrings, restoreLongStrings, SLICE_CHARS } from '../../gateway/json-slices.js';
import { jsonThreads } from '../../gateway/json-threads.js';

const long = (c: string, n = SLICE_CHARS + 7) => c.repeat(Math.ceil(n / c.length)).slice(0, n);
const A = long('a');
const B = long('b');

const bodies: [string, string][] = [
  ['a prompt', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: A }] })],
  [
    'CJK and emoji',
    JSON.stringify({
      model: 'm',
      messages: [
        { role: 'user', content: long('漢') },
        { role: 'assistant', content: long('😀') },
      ],
    }),
  ],
  ['the same text twice', JSON.stringify({ a: A, b: [A, { c: A }] })],
  ['a repeated key: the last one counts', `{"a":"${A}","a":"${B}"}`],
  ['a repeated key holding an object last', `{"a":"${A}","a":{"x":1}}`],
  ['an escaped string', JSON.stringify({ a: `${A}"\\\n${B}` })],
  ['an escaped key', `{"\\u0061":"${A}","a":"${B}"}`],
  ['a key past 160 characters', JSON.stringify({ [long('k', 200)]: A, [`${long('k', 160)}x`]: B })],
  ['a long key, no long value', JSON.stringify({ [A]: 1 })],
  ['the body is one string', JSON.stringify(A)],
  ['arrays in arrays', JSON.stringify([[1, [A, 'x', B]], A])],
  ['JSON-looking text inside a string', JSON.stringify({ a: `${A}","b":"x` })],
];

describe('long strings given back as ranges of the text', () => {
  it.each(bodies)('%s: cut on the thread and put back, the value is what JSON.parse gives', (_n, text) => {
    const { found, long: onLong } = longStrings();
    checkJsonText(text, 64, { long: onLong, longChars: SLICE_CHARS });
    const holder = { value: JSON.parse(text) as unknown };
    const slices = cutLongStrings(text, holder, found);
    for (const s of slices) expect(s.end - s.start).toBeGreaterThanOrEqual(SLICE_CHARS);
    restoreLongStrings(text, holder, slices);
    expect(holder.value).toEqual(JSON.parse(text));
  });

  it('a prompt is cut (not copied back), an escaped string is not', () => {
    const count = (text: string) => {
      const { found, long: onLong } = longStrings();
      checkJsonText(text, 64, { long: onLong, longChars: SLICE_CHARS });
      return cutLongStrings(text, { value: JSON.parse(text) }, found).length;
    };
    expect(count(bodies[0][1])).toBe(1);
    expect(count(bodies[2][1])).toBe(3);
    expect(count(bodies[5][1])).toBe(0);
  });

  const threads = jsonThreads({ size: 1 });
  afterAll(() => threads.close());
  it.each(bodies)('%s: through a JSON thread, request and answer', async (_n, text) => {
    const request = await threads.parseRequest(Buffer.from(text), 64);
    expect(request.parsed.value).toEqual(JSON.parse(text));
    expect(request.text).toBe(text);
    const answer = await threads.parseAnswer(Buffer.from(text), 64);
    expect(answer.parsed?.value).toEqual(JSON.parse(text));
  });
});
