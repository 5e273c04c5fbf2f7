/**
 * Post-order positions of complete subtrees (the hot tier's tree table key): the closed formula
 * matches a naive post-order enumeration, the nodes of a tree of n leaves are exactly positions
 * [0, 2n - popcount(n)), and large indexes agree with a BigInt reference.
 */
import { expect, test } from "bun:test";
import { forEachPostOrder, postOrderNodeCount, postOrderPosition } from "../../src/merkle/index.ts";

/** Naive: walk the complete subtrees leaf by leaf, each parent right after its right child. */
function naive(size: number): string[] {
  const out: string[] = [];
  const stack: { level: number; index: number }[] = [];
  for (let leaf = 0; leaf < size; leaf++) {
    let node = { level: 0, index: leaf };
    out.push(`${node.level}/${node.index}`);
    while (stack.length > 0 && stack[stack.length - 1]!.level === node.level) {
      stack.pop();
      node = { level: node.level + 1, index: node.index >> 1 };
      out.push(`${node.level}/${node.index}`);
    }
    stack.push(node);
  }
  return out;
}

test("positions follow the naive post-order and fill [0, 2n - popcount(n)) exactly", () => {
  const order = naive(3000);
  order.forEach((key, position) => {
    const [level, index] = key.split("/").map(Number) as [number, number];
    expect(postOrderPosition(level, index)).toBe(position);
  });
  const walked: string[] = [];
  forEachPostOrder(3000, (level, index) => walked.push(`${level}/${index}`));
  expect(walked).toEqual(order);
  for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 1000, 2047, 2048, 3000]) expect(postOrderNodeCount(n)).toBe(naive(n).length);
});

test("large indexes match a BigInt reference; positions past 2^53 are refused", () => {
  const reference = (level: number, index: number) => {
    const m = BigInt(index) + 1n;
    const ones = m.toString(2).split("").filter((c) => c === "1").length;
    const zeros = m.toString(2).length - 1 - m.toString(2).lastIndexOf("1");
    return Number((1n << BigInt(level + 1)) * m - BigInt(ones) - BigInt(zeros) - 1n);
  };
  for (const [level, index] of [[0, 2 ** 40 + 12345], [0, 2 ** 51 - 1], [1, 2 ** 33 * 3 - 1], [20, 98765], [51, 0], [40, 4095], [0, 2 ** 32 - 1], [0, 2 ** 32]] as const) {
    expect(postOrderPosition(level, index)).toBe(reference(level, index));
  }
  expect(() => postOrderPosition(0, 2 ** 52)).toThrow();
  expect(() => postOrderPosition(52, 1)).toThrow();
});

test("postOrderNode inverts postOrderPosition", async () => {
  const { postOrderNode } = await import("../../src/merkle/index.ts");
  for (let position = 0; position < 5000; position++) {
    const { level, index } = postOrderNode(position);
    expect(postOrderPosition(level, index)).toBe(position);
  }
  for (const [level, index] of [[0, 2 ** 45 + 3], [17, 123456], [30, 7]] as const) expect(postOrderNode(postOrderPosition(level, index))).toEqual({ level, index });
});
