/**
 * The bench's ratio table (bench/lib/report.ts) never prints a missed ratio as its target.
 */
import { describe, expect, test } from "bun:test";
import { formatRatio } from "../../bench/lib/report.ts";

describe("bench ratio table", () => {
  test("a ratio is shown with two decimals, or more when two would round it onto its target", () => {
    expect(formatRatio(0.5917, ">= 0.8x")).toBe("0.59");
    expect(formatRatio(1.9984, ">= 2x")).toBe("1.998");
    expect(formatRatio(0.7996, ">= 0.8x")).toBe("0.7996");
    expect(formatRatio(1.0042, "<= 1x")).toBe("1.004");
    expect(formatRatio(2, ">= 2x")).toBe("2.00");
    expect(formatRatio(0.0768, null)).toBe("0.08");
  });
});
