/**
 * @module transport/frame. The wire framing of the peer transport: pure encoding and an
 * incremental decoder; no sockets here.
 *
 * Every frame is a 5-byte header then a payload:
 *
 *   u32 payloadBytes (big-endian) | u8 frameType | payload[payloadBytes]
 *
 * Frame types: 1 = HELLO, 2 = AUTH (handshake, see handshake.ts), 3 = MESSAGE (one opaque
 * payload from the authenticated sender to the receiver). Any other type byte is malformed.
 * A header whose length exceeds the decoder's current limit is malformed before a single byte
 * of the payload is buffered, so a hostile length cannot make the receiver allocate.
 */

export const frameHeaderBytes = 5;

export const FrameType = {
  hello: 1,
  auth: 2,
  message: 3,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/**
 * Default largest MESSAGE payload. Raft catch-up and pipelined AppendEntries carry whole batches
 * of ledger entries (values up to 4 MiB each by default), so the limit is generous; it exists so
 * a corrupt or hostile length prefix cannot make a node buffer gigabytes.
 */
export const frameBytesMaxDefault = 64 * 1024 * 1024;

/**
 * Largest frame accepted before a connection is authenticated: handshake frames are a few dozen
 * bytes, so anything longer (an HTTP request, TLS ClientHello, random bytes) is refused after
 * its first 5 bytes.
 */
export const handshakeFrameBytesMax = 128;

/** The decoder's first buffer; big enough for many small frames split across reads. */
const bufferBytesMin = 64 * 1024;
/** A decode buffer larger than this is released once empty, so one big frame does not pin memory. */
const bufferBytesKept = 1024 * 1024;

export function isFrameType(value: number): value is FrameType {
  return value === FrameType.hello || value === FrameType.auth || value === FrameType.message;
}

/** Writes the header of one frame at `offset` in `out`; returns the offset after it. */
export function writeFrameHeader(out: Uint8Array, offset: number, type: FrameType, payloadBytes: number): number {
  out[offset] = (payloadBytes >>> 24) & 0xff;
  out[offset + 1] = (payloadBytes >>> 16) & 0xff;
  out[offset + 2] = (payloadBytes >>> 8) & 0xff;
  out[offset + 3] = payloadBytes & 0xff;
  out[offset + 4] = type;
  return offset + frameHeaderBytes;
}

/** Encodes one frame into a new buffer. */
export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderBytes + payload.length);
  writeFrameHeader(out, 0, type, payload.length);
  out.set(payload, frameHeaderBytes);
  return out;
}

/** Encodes many MESSAGE frames back to back into one buffer (one socket write). */
export function encodeMessageBatch(payloads: readonly Uint8Array[], totalPayloadBytes: number): Uint8Array {
  const out = new Uint8Array(payloads.length * frameHeaderBytes + totalPayloadBytes);
  let offset = 0;
  for (const payload of payloads) {
    offset = writeFrameHeader(out, offset, FrameType.message, payload.length);
    out.set(payload, offset);
    offset += payload.length;
  }
  if (offset !== out.length) throw new RangeError(`batch encoded ${offset} bytes, wanted ${out.length}`);
  return out;
}

export type FrameError = { kind: "oversized"; payloadBytes: number; limitBytes: number } | { kind: "bad_type"; type: number };

export function describeFrameError(error: FrameError): string {
  return error.kind === "oversized"
    ? `frame of ${error.payloadBytes} bytes exceeds the limit of ${error.limitBytes}`
    : `unknown frame type ${error.type}`;
}

/**
 * An incremental frame decoder. Feed it chunks as they arrive; it calls `onFrame` for every
 * complete frame (the payload is a copy the callee may keep) and stops at the first malformed
 * header, returning the error. After an error the decoder must not be fed again.
 *
 * `payloadBytesMax` may be changed between feeds (it is raised once a connection authenticates).
 * `onFrame` may return false to stop decoding (the connection is being closed).
 */
export class FrameDecoder {
  private buffer: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private failed = false;

  constructor(public payloadBytesMax: number) {}

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  feed(chunk: Uint8Array, onFrame: (type: FrameType, payload: Uint8Array) => boolean): FrameError | undefined {
    if (this.failed) throw new Error("FrameDecoder fed after an error");
    let source: Uint8Array;
    let offset: number;
    if (this.end === this.start) {
      // Common case: nothing buffered, decode straight from the chunk.
      source = chunk;
      offset = 0;
    } else {
      this.append(chunk);
      source = this.buffer;
      offset = this.start;
    }
    const limit = source === chunk ? chunk.length : this.end;
    let incompleteFrameBytes = 0;
    while (limit - offset >= frameHeaderBytes) {
      const payloadBytes =
        ((source[offset]! << 24) >>> 0) + (source[offset + 1]! << 16) + (source[offset + 2]! << 8) + source[offset + 3]!;
      const type = source[offset + 4]!;
      if (!isFrameType(type)) return this.fail({ kind: "bad_type", type });
      if (payloadBytes > this.payloadBytesMax) {
        return this.fail({ kind: "oversized", payloadBytes, limitBytes: this.payloadBytesMax });
      }
      const frameEnd = offset + frameHeaderBytes + payloadBytes;
      if (frameEnd > limit) {
        incompleteFrameBytes = frameHeaderBytes + payloadBytes;
        break;
      }
      const payload = source.slice(offset + frameHeaderBytes, frameEnd);
      offset = frameEnd;
      if (!onFrame(type, payload)) {
        this.failed = true;
        return undefined;
      }
    }
    if (source === chunk) {
      this.start = 0;
      this.end = 0;
      if (offset < chunk.length) this.append(chunk.subarray(offset));
    } else {
      this.start = offset;
      if (this.start === this.end) {
        this.start = 0;
        this.end = 0;
        // Do not pin a huge buffer after a large frame has passed.
        if (this.buffer.length > bufferBytesKept) this.buffer = new Uint8Array(0);
      }
    }
    // Size the buffer once for a large frame in progress instead of doubling past it.
    if (incompleteFrameBytes > this.buffer.length - this.start) this.grow(incompleteFrameBytes);
    return undefined;
  }

  private fail(error: FrameError): FrameError {
    this.failed = true;
    this.buffer = new Uint8Array(0);
    this.start = 0;
    this.end = 0;
    return error;
  }

  /** Appends bytes after `end`, compacting or growing the buffer as needed. */
  private append(bytes: Uint8Array): void {
    const used = this.end - this.start;
    if (this.end + bytes.length <= this.buffer.length) {
      this.buffer.set(bytes, this.end);
      this.end += bytes.length;
      return;
    }
    const needed = used + bytes.length;
    if (needed <= this.buffer.length) {
      this.buffer.copyWithin(0, this.start, this.end);
      this.start = 0;
      this.end = used;
    } else {
      this.grow(Math.max(needed, bufferBytesMin, Math.min(this.buffer.length * 2, bufferBytesKept)));
    }
    this.buffer.set(bytes, this.end);
    this.end += bytes.length;
  }

  /** Moves the buffered bytes to the front of a new buffer of exactly `bytes` capacity. */
  private grow(bytes: number): void {
    const next = new Uint8Array(bytes);
    next.set(this.buffer.subarray(this.start, this.end));
    this.end -= this.start;
    this.start = 0;
    this.buffer = next;
  }
}
