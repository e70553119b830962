import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDashboards } from './index.js';

/** Where the committed dashboard JSON lives (read by Grafana's file provider). */
export function jsonDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'json');
}

/** Writes every dashboard and removes JSON files no generator produces any more. */
export function writeDashboards(dir = jsonDir()): string[] {
  const files = renderDashboards();
  mkdirSync(dir, { recursive: true });
  for (const stale of readdirSync(dir).filter((f) => f.endsWith('.json') && !files.has(f))) rmSync(join(dir, stale));
  for (const [file, text] of files) writeFileSync(join(dir, file), text);
  return [...files.keys()];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const written = writeDashboards();
  console.log(`wrote ${written.length} dashboards to ${jsonDir()}: ${written.join(', ')}`);
}
