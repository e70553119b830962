import { z } from 'zod';
import { API_VERSION, documentSchema } from './schema.js';

/**
 * JSON Schema for one resource document, for editors (yaml-language-server applies it to each
 * document of a file). Written to `gateway/config.schema.json`; a test keeps the two equal.
 * Regenerate with `npx tsx cli/tracegate.ts validate --schema > gateway/config.schema.json`.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(documentSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://tracegate.dev/schemas/gateway-config.json',
    title: `tracegate gateway configuration document (${API_VERSION})`,
  };
}

export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
