/**
 * @module witness. A small C2SP tlog-witness for tests, on loopback: POST /add-checkpoint checks
 * the submitted checkpoint's signature against the log keys it trusts (at least one must verify),
 * the old size against the size it last cosigned for that origin (409 text/x.tlog.size when they
 * differ), the consistency proof from its recorded root (422 when it fails), then records the new
 * checkpoint and answers a cosignature/v1 line with its own Ed25519 key.
 */

import { fromBase64 } from "../../src/lib/index.ts";
import { cosignLine, cosignatureKeyId, defaultHasher, generateSigner, parseVerifierKey } from "../../src/crypto/index.ts";
import { formatCosignatureVerifierKey, openNote, parseCheckpoint, verifyConsistency, type NoteVerifier } from "../../src/merkle/index.ts";

export interface TestWitness {
  url: string;
  /** The witness's cosigner verifier key (type 0x04). */
  verifierKey: string;
  /** Sets the log's origin and the member keys the witness trusts for it. */
  trust(origin: string, keys: readonly string[]): Promise<void>;
  /** How many checkpoints it cosigned. */
  cosigned(): number;
  stop(): void;
}

export async function startWitness(name = "witness.test/w1"): Promise<TestWitness> {
  const { signer } = await generateSigner(name);
  const verifierKey = formatCosignatureVerifierKey({ name, keyId: await cosignatureKeyId(name, signer.publicKey), publicKey: signer.publicKey });
  const logs = new Map<string, NoteVerifier[]>();
  const latest = new Map<string, { size: number; root: Uint8Array }>();
  let count = 0;
  const answer = (status: number, text: string, type = "text/plain") => new Response(text, { status, headers: { "content-type": type } });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      if (new URL(request.url).pathname !== "/add-checkpoint" || request.method !== "POST") return answer(404, "not found\n");
      const text = await request.text();
      const split = text.indexOf("\n\n");
      if (split < 0) return answer(400, "no empty line\n");
      const head = text.slice(0, split).split("\n");
      const note = text.slice(split + 2);
      const oldMatch = /^old (0|[1-9][0-9]*)$/.exec(head[0] ?? "");
      if (!oldMatch || head.length - 1 > 63) return answer(400, "bad old size line\n");
      const old = Number(oldMatch[1]);
      const proof = head.slice(1).map((line) => fromBase64(line));
      if (proof.some((hash) => !hash || hash.length !== 32)) return answer(400, "bad proof line\n");
      let checkpoint;
      try {
        checkpoint = parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1));
      } catch {
        return answer(400, "bad checkpoint\n");
      }
      const keys = logs.get(checkpoint.origin);
      if (!keys) return answer(404, "unknown log\n");
      try {
        await openNote(note, keys);
      } catch {
        return answer(403, "no valid log signature\n");
      }
      if (old > checkpoint.size) return answer(400, "old size beyond the checkpoint\n");
      const known = latest.get(checkpoint.origin);
      if ((known?.size ?? 0) !== old) return answer(409, `${known?.size ?? 0}\n`, "text/x.tlog.size");
      if (known && old === checkpoint.size && Buffer.compare(Buffer.from(known.root), Buffer.from(checkpoint.rootHash)) !== 0) return answer(409, `${known.size}\n`, "text/x.tlog.size");
      if (known && old > 0 && old < checkpoint.size) {
        try {
          verifyConsistency(defaultHasher()!, old, checkpoint.size, proof as Uint8Array[], known.root, checkpoint.rootHash);
        } catch {
          return answer(422, "consistency proof fails\n");
        }
      }
      latest.set(checkpoint.origin, { size: checkpoint.size, root: checkpoint.rootHash });
      count++;
      const body = note.slice(0, note.indexOf("\n\n") + 1);
      return answer(200, await cosignLine(body, signer, Math.floor(Date.now() / 1000)));
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    verifierKey,
    async trust(origin, keys) {
      logs.set(origin, await Promise.all(keys.map(parseVerifierKey)));
    },
    cosigned: () => count,
    stop: () => server.stop(true),
  };
}
