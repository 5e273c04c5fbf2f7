/**
 * The archiver's tile lane (src/storage/cold/tile-lane.ts): growths run one at a time in the order
 * queued, each from where the one before ended; `doneTo` moves only when a growth finished; after
 * a failure no later growth runs and the failure is reported; `behindAtMost` bounds how far the
 * lane may fall behind.
 */
import { expect, test } from "bun:test";
import { TileLane } from "../../src/storage/cold/tile-lane.ts";

/** A publish function whose calls finish when the test says so. */
function controlled() {
  const calls: { from: number; to: number; known: string | undefined; finish: (error?: Error) => void }[] = [];
  let running = 0;
  let runningMax = 0;
  const publish = (from: number, to: number, known: string | undefined) =>
    new Promise<void>((resolve, reject) => {
      running++;
      runningMax = Math.max(runningMax, running);
      calls.push({ from, to, known, finish: (error) => (running--, error ? reject(error) : resolve()) });
    });
  return { calls, publish, runningMax: () => runningMax };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

test("growths run one at a time, in order, each from the end of the one before; doneTo follows the finished ones", async () => {
  const c = controlled();
  const lane = new TileLane<string>(c.publish, 100);
  lane.enqueue(250, "a");
  lane.enqueue(400, "b");
  lane.enqueue(400); // no growth: nothing to write
  await turn();
  expect(c.calls.map(({ from, to, known }) => [from, to, known])).toEqual([[100, 250, "a"]]);
  expect(lane.doneTo).toBe(100);
  c.calls[0]!.finish();
  await turn();
  expect(lane.doneTo).toBe(250);
  expect(c.calls.map(({ from, to, known }) => [from, to, known])).toEqual([
    [100, 250, "a"],
    [250, 400, "b"],
  ]);
  c.calls[1]!.finish();
  await lane.settled();
  expect(lane.doneTo).toBe(400);
  expect(c.calls).toHaveLength(2);
  expect(c.runningMax()).toBe(1);
  expect(() => lane.enqueue(399)).toThrow(/behind 400/);
});

test("after a failed growth no later one runs, doneTo stays where the tiles are complete, and settled() rejects with it", async () => {
  const c = controlled();
  const lane = new TileLane<string>(c.publish, 0);
  lane.enqueue(10);
  lane.enqueue(20);
  lane.enqueue(30);
  await turn();
  c.calls[0]!.finish();
  await turn();
  c.calls[1]!.finish(new Error("store down"));
  await expect(lane.settled()).rejects.toThrow("store down");
  expect(c.calls).toHaveLength(2); // the growth to 30 was skipped: it would leave a gap
  expect(lane.doneTo).toBe(10);
  expect(() => lane.throwIfFailed()).toThrow("store down");
  await expect(lane.behindAtMost(5)).rejects.toThrow("store down");
});

test("behindAtMost(n) waits until at most n queued growths are unfinished", async () => {
  const c = controlled();
  const lane = new TileLane<string>(c.publish, 0);
  lane.enqueue(10);
  lane.enqueue(20);
  let waited = false;
  const wait = lane.behindAtMost(1).then(() => (waited = true));
  await turn();
  expect(waited).toBe(false);
  c.calls[0]!.finish();
  await wait;
  expect(lane.doneTo).toBe(10); // the second growth may still be running
  await lane.behindAtMost(1); // one unfinished: returns at once
  await turn();
  c.calls[1]!.finish();
  await lane.behindAtMost(0);
  expect(lane.doneTo).toBe(20);
});
