import type { Writable } from 'node:stream';

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function csvCell(v: unknown): string {
  const s = cell(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Prints rows as an aligned text table, JSON lines or CSV with a header. */
export function printRows(rows: Record<string, unknown>[], format: OutputFormat, out: Writable): void {
  const columns = rows.length ? Object.keys(rows[0]) : [];
  switch (format) {
    case 'json':
      for (const r of rows) out.write(`${JSON.stringify(r)}\n`);
      return;
    case 'csv':
      out.write(`${columns.map(csvCell).join(',')}\n`);
      for (const r of rows) out.write(`${columns.map((c) => csvCell(r[c])).join(',')}\n`);
      return;
    case 'table': {
      if (!rows.length) {
        out.write('(no rows)\n');
        return;
      }
      const widths = columns.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
      const line = (vals: string[]) =>
        vals
          .map((v, i) => (v.length > widths[i] ? `${v.slice(0, widths[i] - 1)}…` : v.padEnd(widths[i])))
          .join('  ')
          .trimEnd();
      out.write(`${line(columns)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
      for (const r of rows) out.write(`${line(columns.map((c) => cell(r[c])))}\n`);
      return;
    }
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}
