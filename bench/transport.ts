/**
 * Transport throughput: 100-byte messages from one transport to another over loopback TCP,
 * batched (one socket write per flush, the default) versus one socket write per message
 * (`writeEachMessage`, the baseline), measured in the same run; prints the ratio.
 *
 * Both transports live in this one process (one event loop), so the sender's and receiver's CPU
 * time add up; absolute numbers are lower than between two processes, the ratio is what counts.
 * The sender keeps at most `windowMessages` messages in flight, like a pipelining Raft leader,
 * and flushes once per cycle, as the node's Ready loop does.
 *
 * Run: bun bench/transport.ts [messages=1000000] [rounds=3]
 */

import { createTransport, type Transport } from "../src/transport/index.ts";

const payloadBytes = 100;
const messages = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
const windows = [256, 4096];
const secret = "plv3otCJnRHeUeF8Cncwn1zQkplNeW1RIF0xf71g0Os"; // random (scribe-node gen-secret)

interface Pair {
  sender: Transport;
  receiver: Transport;
  received: () => number;
  waitUntil: (count: number) => Promise<void>;
}

async function startPair(writeEachMessage: boolean, windowMessages: number): Promise<Pair> {
  let received = 0;
  let waitTarget = Infinity;
  let wake: (() => void) | null = null;
  const receiver = await createTransport({
    nodeId: 2,
    secret,
    onMessage: () => {
      received++;
      if (wake !== null && received >= waitTarget) {
        const resolve = wake;
        wake = null;
        resolve();
      }
    },
  });
  const sender = await createTransport({
    nodeId: 1,
    secret,
    writeEachMessage,
    queueMessagesMax: windowMessages * 2,
    onMessage: () => {},
  });
  sender.setPeer(2, `127.0.0.1:${receiver.port}`);
  while (!sender.stats().peers[0]!.connected) await Bun.sleep(1);
  return {
    sender,
    receiver,
    received: () => received,
    waitUntil: (count) =>
      new Promise<void>((resolve) => {
        if (received >= count) return resolve();
        waitTarget = count;
        wake = resolve;
      }),
  };
}

/** Returns messages per second for one run. */
async function run(writeEachMessage: boolean, windowMessages: number): Promise<number> {
  const pair = await startPair(writeEachMessage, windowMessages);
  const payload = new Uint8Array(payloadBytes).fill(7);
  const started = performance.now();
  let sent = 0;
  while (sent < messages) {
    const room = windowMessages - (sent - pair.received());
    for (let i = 0; i < room && sent < messages; i++) {
      if (!pair.sender.send(2, payload)) throw new Error("bench: send refused; window larger than the queue?");
      sent++;
    }
    pair.sender.flush();
    await pair.waitUntil(Math.min(messages, sent - windowMessages / 2));
  }
  await pair.waitUntil(messages);
  const seconds = (performance.now() - started) / 1000;
  const stats = pair.sender.stats().peers[0]!;
  if (stats.droppedMessages !== 0 || pair.received() !== messages) throw new Error("bench: messages lost");
  await Promise.all([pair.sender.close(), pair.receiver.close()]);
  return messages / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function format(rate: number): string {
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(2)}M` : `${(rate / 1e3).toFixed(0)}k`;
}

console.log(`transport: ${messages} messages of ${payloadBytes} bytes, one process, loopback TCP, median of ${rounds}`);
for (const windowMessages of windows) {
  const batched: number[] = [];
  const perMessage: number[] = [];
  for (let round = 0; round < rounds; round++) {
    perMessage.push(await run(true, windowMessages));
    batched.push(await run(false, windowMessages));
  }
  const b = median(batched);
  const p = median(perMessage);
  console.log(
    `window ${String(windowMessages).padStart(5)}: batched ${format(b).padStart(6)} msgs/s, ` +
      `one write per message ${format(p).padStart(6)} msgs/s, ratio ${(b / p).toFixed(1)}x`,
  );
}
