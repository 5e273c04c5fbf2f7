/** @module lib. Leaf utilities; imports nothing from the project. */
export * from "./assert.ts";
export * from "./bytes.ts";
export * from "./errors.ts";
export * from "./random.ts";
export * from "./utf8-order.ts";
