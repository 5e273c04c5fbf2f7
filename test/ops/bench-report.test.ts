/**
 * The bench's ratio table (bench/lib/report.ts) never prints a missed ratio as its target, and
 * tells how much of the machine's CPU the hypervisor took during a run.
 */
import { describe, expect, test } from "bun:test";
import { formatRatio, parseCpuTicks, stolenShare } from "../../bench/lib/report.ts";

describe("bench ratio table", () => {
  test("a ratio is shown with two decimals, or more when two would round it onto its target", () => {
    expect(formatRatio(0.5917, ">= 0.8x")).toBe("0.59");
    expect(formatRatio(1.9984, ">= 2x")).toBe("1.998");
    expect(formatRatio(0.7996, ">= 0.8x")).toBe("0.7996");
    expect(formatRatio(1.0042, "<= 1x")).toBe("1.004");
    expect(formatRatio(2, ">= 2x")).toBe("2.00");
    expect(formatRatio(0.0768, null)).toBe("0.08");
  });

  test("the CPU stolen by the hypervisor is read from /proc/stat's cpu line, as a share of all its time", () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    const before = parseCpuTicks("cpu  1000 0 500 8000 100 0 50 350 40 0\ncpu0 500 0 250 4000 50 0 25 175 20 0\nintr 1\n");
    const after = parseCpuTicks("cpu  1600 0 800 8800 100 0 50 650 90 0\n");
    expect(before).toEqual({ total: 10000, steal: 350 });
    expect(after).toEqual({ total: 12000, steal: 650 });
    expect(stolenShare(before, after)).toBeCloseTo(0.15, 10);
    // No cpu line, or no steal column: unknown, not zero.
    expect(parseCpuTicks("intr 1\n")).toBeUndefined();
    expect(parseCpuTicks("cpu  1 2 3 4\n")).toBeUndefined();
    expect(stolenShare(undefined, after)).toBeNull();
    expect(stolenShare(after, after)).toBeNull();
  });
});
