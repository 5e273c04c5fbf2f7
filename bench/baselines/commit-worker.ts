/**
 * @module bench/baselines/commit-worker. The minimal durable server's commit in a Worker, for
 * `durable-server.ts --commit-in-worker` (bench/worker-split.ts): the event loop thread keeps
 * the HTTP work and sends each batch here as ONE transferred buffer (no structured clone per
 * write); the Worker commits it (rows.ts `batchWriter`) and sends the receipts back the same way.
 *
 * Messages: `{init: {path, busyUs}}` → `{ready: true}`; `{id, batch}` (packWrites) →
 * `{id, receipts}` (packReceipts) or `{id, error}`.
 */

import { batchWriter, openBaselineRows, type RowReceipt } from "./rows.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Keys and values as one buffer: per write u32 key length, key (UTF-8), u32 value length, value. */
export function packWrites(keys: readonly string[], values: readonly Uint8Array[]): Uint8Array {
  const keyBytes = keys.map((key) => encoder.encode(key));
  let size = 0;
  for (let i = 0; i < keys.length; i++) size += 8 + keyBytes[i]!.length + values[i]!.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (let i = 0; i < keys.length; i++) {
    for (const part of [keyBytes[i]!, values[i]!]) {
      view.setUint32(at, part.length);
      out.set(part, at + 4);
      at += 4 + part.length;
    }
  }
  return out;
}

export function unpackWrites(batch: Uint8Array): { keys: string[]; values: Uint8Array[] } {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const keys: string[] = [];
  const values: Uint8Array[] = [];
  let at = 0;
  const next = (): Uint8Array => {
    const length = at + 4 <= batch.length ? view.getUint32(at) : -1;
    const part = batch.subarray(at + 4, at + 4 + length);
    if (length < 0 || part.length !== length) throw new Error(`packed batch truncated at byte ${at}`);
    at += 4 + length;
    return part;
  };
  while (at < batch.length) {
    keys.push(decoder.decode(next()));
    values.push(next());
  }
  return { keys, values };
}

/** Receipts as one buffer: per write f64 index, f64 version, 32-byte value hash. */
export function packReceipts(receipts: readonly RowReceipt[]): Uint8Array {
  const out = new Uint8Array(receipts.length * 48);
  const view = new DataView(out.buffer);
  receipts.forEach((r, i) => {
    view.setFloat64(i * 48, r.index);
    view.setFloat64(i * 48 + 8, r.version);
    out.set(r.valueHash, i * 48 + 16);
  });
  return out;
}

export function unpackReceipts(packed: Uint8Array): RowReceipt[] {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const out: RowReceipt[] = [];
  for (let at = 0; at < packed.length; at += 48) out.push({ index: view.getFloat64(at), version: view.getFloat64(at + 8), valueHash: packed.subarray(at + 16, at + 48) });
  return out;
}

declare const self: Worker;
if (!Bun.isMainThread) {
  let write: ReturnType<typeof batchWriter> | undefined;
  self.onmessage = (event: MessageEvent) => {
    const message = event.data as { init?: { path: string; busyUs: number }; id?: number; batch?: Uint8Array };
    if (message.init) {
      write = batchWriter(openBaselineRows(message.init.path), message.init.busyUs);
      self.postMessage({ ready: true });
      return;
    }
    try {
      const { keys, values } = unpackWrites(message.batch!);
      const receipts = packReceipts(write!(keys, values));
      self.postMessage({ id: message.id, receipts }, [receipts.buffer as ArrayBuffer]);
    } catch (error) {
      self.postMessage({ id: message.id, error: String(error) });
    }
  };
}
