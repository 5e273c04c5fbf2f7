/**
 * @module schemas. Checks an answer of the node against the response schemas of
 * src/http/response-schemas.ts (the OpenAPI document's components) the way
 * test/http/openapi.test.ts does: strictly, so a field a schema does not describe fails, except
 * where a schema is loose on purpose (`additionalProperties: true`). For tests that see states the OpenAPI test cannot make
 * (a failed driver, a full disk, a disagreeing member).
 */

import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { responseSchemas, type ResponseSchemaName } from "../../src/http/response-schemas.ts";

/**
 * A copy of a TypeBox schema where every object schema that does not say otherwise refuses
 * fields it does not describe. Records (patternProperties) stay as they are.
 */
export function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Record<string | symbol, unknown> = {};
  for (const key of Object.keys(schema)) out[key] = strict((schema as Record<string, unknown>)[key]);
  // TypeBox keeps a schema's kind under symbol keys: copied as they are.
  for (const symbol of Object.getOwnPropertySymbols(schema)) out[symbol] = (schema as Record<symbol, unknown>)[symbol];
  if (out.type === "object" && out.properties !== undefined && out.additionalProperties === undefined && out.patternProperties === undefined) out.additionalProperties = false;
  return out;
}

/** Why `value` fails the strict form of every one of the schemas `names` (empty when one accepts it). */
export function schemaErrors(names: readonly (ResponseSchemaName | string)[], value: unknown): string[] {
  const schemas = responseSchemas as Record<string, TSchema>;
  const failures = names.map((name) => {
    const schema = schemas[name];
    if (!schema) return [`no response schema named ${name}`];
    return [...Value.Errors(strict(schema) as TSchema, value)].slice(0, 3).map((e) => `${name} ${e.path}: ${e.message}`);
  });
  return failures.some((errors) => errors.length === 0) ? [] : failures.flat();
}
