/**
 * `npm run bench -- <name> [args…]` runs `bench/<name>.ts`, whose `main(args)` prints its figures
 * and saves them under `bench/results/`. Benchmarks are never part of `npm test`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

async function run(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const available = readdirSync(here)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
    .map((f) => f.slice(0, -3));
  if (!name || !/^[a-z0-9-]+$/.test(name) || !existsSync(join(here, `${name}.ts`))) {
    process.stderr.write(`usage: npm run bench -- <name> [args]; benchmarks: ${available.join(', ') || '(none)'}\n`);
    return 2;
  }
  const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as { main?: (args: string[]) => Promise<void> };
  if (typeof mod.main !== 'function') throw new Error(`bench/${name}.ts does not export main(args)`);
  await mod.main(args);
  return 0;
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
