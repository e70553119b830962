import { Writable } from 'node:stream';

/** A stream that hands every chunk written to it to `onText` as text (a test's log capture). */
export function textSink(onText: (text: string) => void): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      onText(String(chunk));
      done();
    },
  });
}
