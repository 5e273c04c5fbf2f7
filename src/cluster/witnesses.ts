/**
 * @module witnesses. Submits the cluster's checkpoints to external C2SP tlog-witness endpoints
 * (`witness.endpoints`) and returns the cosignature/v1 lines they answer that verify with the
 * configured witness keys (`witness.keys`). The add-checkpoint request carries the size of the
 * last checkpoint the witness cosigned ("old N", 0 at first) and a consistency proof from it; a
 * 409 answer (text/x.tlog.size) tells the witness's size, and the request is sent once more from
 * there. A witness that fails or times out is skipped for this checkpoint (warned), never blocks it.
 */

import { toBase64, toHex } from "../lib/index.ts";
import { parseCosignatureVerifierKey } from "../crypto/index.ts";
import { cosignatureOf, splitNote, type Checkpoint, type CosignatureVerifier, type MerkleTree } from "../merkle/index.ts";
import type { Logger } from "./logger.ts";

/** Attempts per witness per checkpoint: the first, and one more after a 409 names the witness's size. */
const attemptsMax = 2;

export interface WitnessOptions {
  endpoints: readonly string[];
  keys: readonly string[];
  timeoutMs: number;
  tree: () => MerkleTree;
  logger: Logger;
}

export class WitnessSubmitter {
  private verifiers: CosignatureVerifier[] | undefined;
  /** Per endpoint: the size of the last checkpoint it cosigned, as far as this node knows. */
  private readonly oldSizes = new Map<string, number>();
  readonly counters = { submitted: 0, cosigned: 0, failed: 0 };

  constructor(private readonly options: WitnessOptions) {}

  private async keys(): Promise<CosignatureVerifier[]> {
    this.verifiers ??= await Promise.all(this.options.keys.map(parseCosignatureVerifierKey));
    return this.verifiers;
  }

  /** The note with every verified witness cosignature line added (each witness in parallel). */
  async cosign(note: string, checkpoint: Checkpoint): Promise<string> {
    const results = await Promise.all(this.options.endpoints.map((endpoint) => this.submit(endpoint, note, checkpoint)));
    const lines = [...new Set(results.flat())];
    return lines.length === 0 ? note : note + lines.join("");
  }

  private async submit(endpoint: string, note: string, checkpoint: Checkpoint): Promise<string[]> {
    const { logger } = this.options;
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const old = this.oldSizes.get(endpoint) ?? 0;
      if (old > checkpoint.size) return [];
      this.counters.submitted++;
      try {
        const response = await fetch(`${endpoint.replace(/\/+$/, "")}/add-checkpoint`, {
          method: "POST",
          body: this.requestBody(old, note, checkpoint),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        const text = await response.text();
        if (response.status === 409 && (response.headers.get("content-type") ?? "").startsWith("text/x.tlog.size") && /^(0|[1-9][0-9]*)\n$/.test(text)) {
          this.oldSizes.set(endpoint, Number(text.trim()));
          continue;
        }
        if (!response.ok) throw new Error(`answered ${response.status}: ${text.slice(0, 200)}`);
        const lines = await this.verifiedLines(note, text);
        if (lines.length === 0) throw new Error("answered no cosignature by a configured witness key");
        this.oldSizes.set(endpoint, checkpoint.size);
        this.counters.cosigned++;
        return lines;
      } catch (error) {
        this.counters.failed++;
        logger.warn({ witness: endpoint, size: checkpoint.size, err: (error as Error).message }, "witness did not cosign the checkpoint");
        return [];
      }
    }
    return [];
  }

  private requestBody(old: number, note: string, checkpoint: Checkpoint): string {
    const proof = old === 0 ? [] : this.options.tree().consistencyProof(old, checkpoint.size);
    return `old ${old}\n${proof.map((hash) => `${toBase64(hash)}\n`).join("")}\n${note}`;
  }

  /** The response's signature lines that are valid cosignatures by configured witness keys. */
  private async verifiedLines(note: string, response: string): Promise<string[]> {
    const { body } = splitNote(note);
    const lines = response.split("\n").filter((line) => line !== "").map((line) => `${line}\n`);
    const { signatures } = splitNote(`${body}\n${lines.join("")}`);
    const verified: string[] = [];
    for (const witness of await this.keys()) {
      const signature = cosignatureOf(signatures, witness);
      if (!signature) continue;
      if ((await witness.verify(body, signature.signature)) === undefined) throw new Error(`invalid cosignature by ${witness.name}+${toHex(witness.keyId)}`);
      verified.push(lines[signatures.indexOf(signature)]!);
    }
    return verified;
  }
}
