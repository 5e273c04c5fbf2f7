import { describe, expect, test } from "bun:test";
import { utf8 } from "../../src/lib/index.ts";
import { parsePeerAddress, formatPeerAddress, sourceKeyOf } from "../../src/transport/address.ts";
import { backoffDelayMs } from "../../src/transport/backoff.ts";
import { SeededRandom } from "../../src/lib/index.ts";
import {
  Role,
  computeProof,
  decodeHello,
  encodeHello,
  helloPayloadBytes,
  newNonce,
  protocolVersion,
  verifyProof,
} from "../../src/transport/handshake.ts";

describe("hello", () => {
  test("round-trips and has the documented layout", () => {
    const nonce = newNonce();
    const bytes = encodeHello({ role: Role.dialer, senderId: 3, receiverId: 2 ** 40, nonce });
    expect(bytes.length).toBe(helloPayloadBytes);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("SCRB");
    expect(bytes[4]).toBe(2);
    expect(protocolVersion).toBe(2);
    expect(bytes[5]).toBe(0);
    expect(decodeHello(bytes)).toEqual({ role: Role.dialer, senderId: 3, receiverId: 2 ** 40, nonce });
  });

  test("rejects wrong size, magic, version, role and zero ids with a reason", () => {
    const good = encodeHello({ role: Role.acceptor, senderId: 1, receiverId: 2, nonce: newNonce() });
    expect(decodeHello(good.subarray(1))).toBeString();
    const mutate = (index: number, value: number) => {
      const copy = good.slice();
      copy[index] = value;
      return decodeHello(copy);
    };
    expect(mutate(0, 0x58)).toContain("magic");
    expect(mutate(4, 1)).toBe("protocol version 1, wanted 2"); // a version 1 node
    expect(mutate(4, 3)).toContain("version");
    expect(mutate(5, 7)).toContain("role");
    expect(mutate(13, 0)).toContain("zero");
  });
});

describe("proof", () => {
  const input = {
    secret: utf8("llJMhtfLIRQQuAMRCdQ4mxf7aUgYX61AXi-JxJY_bFU"),
    dialerId: 1,
    acceptorId: 2,
    dialerNonce: newNonce(),
    acceptorNonce: newNonce(),
  };

  test("is HMAC-SHA256 over the documented message: label, both ids, both nonces", async () => {
    const message = new Uint8Array([
      ...new TextEncoder().encode("scribe-transport-v2 dialer"),
      ...[0, 0, 0, 0, 0, 0, 0, 1],
      ...[0, 0, 0, 0, 0, 0, 0, 2],
      ...input.dialerNonce,
      ...input.acceptorNonce,
    ]);
    const key = await crypto.subtle.importKey("raw", input.secret as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    expect(computeProof(Role.dialer, input)).toEqual(new Uint8Array(await crypto.subtle.sign("HMAC", key, message)));
  });

  test("verifies with the same secret and inputs", () => {
    expect(verifyProof(Role.dialer, input, computeProof(Role.dialer, input))).toBe(true);
    expect(verifyProof(Role.acceptor, input, computeProof(Role.acceptor, input))).toBe(true);
  });

  test("fails for another secret, nonce, id or role, and for a wrong length", () => {
    const proof = computeProof(Role.dialer, input);
    expect(verifyProof(Role.dialer, { ...input, secret: utf8("u319nzvbEZa6c9aECBhF20zjUitQjd64Bky4_5q3yiY") }, proof)).toBe(false);
    expect(verifyProof(Role.dialer, { ...input, acceptorNonce: newNonce() }, proof)).toBe(false);
    expect(verifyProof(Role.dialer, { ...input, dialerId: 3 }, proof)).toBe(false);
    expect(verifyProof(Role.acceptor, input, proof)).toBe(false);
    expect(verifyProof(Role.dialer, input, proof.subarray(1))).toBe(false);
  });
});

describe("backoff", () => {
  const limits = { backoffMsMin: 50, backoffMsMax: 5_000 };

  test("grows exponentially with jitter in [base/2, base] and stays under the cap", () => {
    const random = new SeededRandom(42);
    for (let attempt = 0; attempt < 40; attempt++) {
      const base = Math.min(5_000, 50 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelayMs(attempt, limits, random);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(base / 2));
        expect(delay).toBeLessThanOrEqual(base);
      }
    }
  });

  test("jitter spreads delays", () => {
    const random = new SeededRandom(7);
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelayMs(10, limits, random)));
    expect(delays.size).toBeGreaterThan(10);
  });
});

describe("peer address", () => {
  test("parses host:port and [v6]:port", () => {
    expect(parsePeerAddress("127.0.0.1:7001")).toEqual({ host: "127.0.0.1", port: 7001 });
    expect(parsePeerAddress("node-2.local:80")).toEqual({ host: "node-2.local", port: 80 });
    expect(parsePeerAddress("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    expect(formatPeerAddress({ host: "::1", port: 9000 })).toBe("[::1]:9000");
  });

  test("counts inbound connections per IPv4 address and per IPv6 /64", () => {
    expect(sourceKeyOf("10.0.0.7")).toBe("10.0.0.7");
    expect(sourceKeyOf("::ffff:10.0.0.7")).toBe("10.0.0.7"); // IPv4-mapped: the same source
    expect(sourceKeyOf("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(sourceKeyOf("2001:db8:1:2::1")).toBe(sourceKeyOf("2001:0db8:0001:0002:ffff::9"));
    expect(sourceKeyOf("2001:db8:1:3::1")).not.toBe(sourceKeyOf("2001:db8:1:2::1"));
    expect(sourceKeyOf("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(sourceKeyOf("")).toBe("unknown");
  });

  test("refuses what is not an address, saying why", () => {
    for (const bad of ["", "host", "host:", ":80", "host:0", "host:70000", "::1:80", "a b:1"]) {
      expect(parsePeerAddress(bad)).toBeString();
    }
  });
});
