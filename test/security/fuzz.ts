/**
 * fast-check parameters for the property-based suites: a fixed seed and a short run under
 * `npm test`, a long run with a fresh seed under `npm run fuzz` (FUZZ_RUNS, FUZZ_SEED).
 * A failing run prints its seed and path, so it can be replayed with FUZZ_SEED.
 */
export function fuzzParams(defaultRuns: number): { seed: number; numRuns: number } {
  const runs = Number(process.env.FUZZ_RUNS);
  const seed = process.env.FUZZ_SEED;
  return {
    numRuns: Number.isInteger(runs) && runs > 0 ? runs : defaultRuns,
    seed: seed === 'random' ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : seed ? Number(seed) | 0 : 20261205,
  };
}
