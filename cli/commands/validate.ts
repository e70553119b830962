import type { Writable } from 'node:stream';
import { configJsonSchemaText } from '../../gateway/config/json-schema.js';
import { loadConfigFile } from '../../gateway/config/load.js';
import { formatProblem } from '../../gateway/config/model.js';
import { renderHttpRoutes, toYaml } from '../../gateway/config/render.js';
import { parse, UsageError } from '../args.js';
import { describeEvaluator } from './evaluate.js';

const OPTIONS = { config: { type: 'string', short: 'c' }, schema: { type: 'boolean' }, render: { type: 'boolean' } } as const;

/**
 * `tracegate validate --config FILE`: every problem with its path and line (exit 1), or OK.
 * `--render` also prints the Gateway API HTTPRoutes; `--schema` prints the JSON Schema for editors.
 */
export async function runValidate(args: string[], out: Writable = process.stdout, err: Writable = process.stderr): Promise<number> {
  const { values } = parse(args, OPTIONS);
  if (values.schema) {
    out.write(configJsonSchemaText());
    return 0;
  }
  if (!values.config) throw new UsageError('give the file: tracegate validate --config gateway.yaml');
  const r = await loadConfigFile(values.config);
  if (!r.ok) {
    for (const p of r.problems) err.write(`${formatProblem(p)}\n`);
    // A file refused whole (unreadable, too large, too slow to parse) is said in its one line.
    const whole = r.problems.length === 1 && r.problems[0].path === 'file';
    if (!whole) err.write(`${values.config}: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  const c = r.config;
  const rules = c.routes.reduce((n, route) => n + route.rules.length, 0);
  const disabled = [...c.backends.values()].filter((b) => b.disabled);
  if (values.render) {
    const { resources, warnings } = renderHttpRoutes(c);
    for (const w of warnings) err.write(`warning: ${w}\n`);
    out.write(toYaml(resources));
    return 0;
  }
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
  // Authentication is on as soon as one ApiKey exists, so how many there are is part of OK.
  out.write(`OK ${values.config}: ${n(c.backends.size, 'backend')}, ${n(c.routes.length, 'route')} (${n(rules, 'rule')}), ${n(c.apiKeys.size, 'API key')}, ${n(c.teams.size, 'team')}\n`);
  for (const b of disabled) out.write(`  backend ${b.name} is disabled: ${b.disabled}\n`);
  for (const e of c.evaluators.values()) out.write(`  ${describeEvaluator(e)}\n`);
  return 0;
}

/** `tracegate render --config FILE`: the HTTPRoutes only (the same as validate --render). */
export function runRender(args: string[]): Promise<number> {
  return runValidate([...args, '--render']);
}
