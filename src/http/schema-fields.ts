/**
 * @module schema-fields. The building blocks of the HTTP API's TypeBox schemas
 * (src/http/request-schemas.ts, response-schemas.ts, status-schemas.ts): a strict JSON integer,
 * hashes, indexes and counts, nullable values, unions of literals, and loose sections.
 */

import { Type, type IntegerOptions } from "@sinclair/typebox";
import { t, type TSchema } from "elysia";

/**
 * A JSON integer. TypeBox's own: Elysia's `t.Integer` also takes integer strings (it converts
 * "2" to 2, for query strings), which a JSON body must not get away with.
 */
export const integer = (options?: IntegerOptions) => Type.Integer(options);

/** A SHA-256 hash as 64 lowercase hex digits. */
export const hex = (description: string) => t.String({ pattern: "^[0-9a-f]{64}$", description });
/** A list of hashes (a proof, a compact range). */
export const hexList = (description: string) => t.Array(hex("A hash."), { description });
/** A ledger, Raft or tree index or size: an integer from 0. */
export const index = (description: string) => integer({ minimum: 0, description });
/** A count of things or bytes: an integer from 0. */
export const count = (description?: string) => integer({ minimum: 0, ...(description === undefined ? {} : { description }) });
/** The schema, or null. */
export const nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);
/** One of these strings. */
export const literals = (values: readonly string[], description?: string) => t.Union(values.map((value) => t.Literal(value)), description === undefined ? {} : { description });
/** A section of a loose schema: the fields it always has; others may appear. */
export const loose = <T extends Parameters<typeof t.Object>[0]>(fields: T, description: string) => t.Object(fields, { additionalProperties: true, description });
