/**
 * Protocol scripts (after etcd-io/raft's testdata/*.txt): each file in test/raft/testdata is a
 * sequence of blocks
 *
 *     command args...
 *     ----
 *     expected output
 *
 * separated by blank lines; lines starting with # are comments. The output of every command is
 * compared with the expected text. `RAFT_SCRIPT_REWRITE=1 bun test test/raft/script.test.ts`
 * rewrites the expected output (then read the diff: it is the specification).
 *
 * Commands: cluster voters=1,2,3 [learners=4] [prevote=false] [checkquorum=false] [election=10]
 *   | campaign N | tick N [times] | tick-all [times] | deliver [quiet] | drop-appends-from N
 *   | propose N text... | read-index N ctx | read-states N | transfer N TARGET
 *   | config N add-voter|add-learner|remove ID | add-node N | isolate N | cut A B | heal
 *   | compact N INDEX | restart N | status | log N | applied N
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fromUtf8, utf8 } from "../../src/lib/index.ts";
import type { ConfigChange, Message } from "../../src/raft/index.ts";
import { Harness } from "./harness.ts";

const dir = `${import.meta.dir}/testdata`;

interface Block {
  command: string;
  expected: string;
  /** Line range [outputStart, outputEnd) of the expected output, for rewriting in place. */
  outputStart: number;
  outputEnd: number;
}

function parse(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "" || line.startsWith("#")) {
      i++;
      continue;
    }
    const command = line.trim();
    i++;
    if (lines[i] !== "----") throw new Error(`line ${i + 1}: expected ---- after "${command}"`);
    i++;
    const outputStart = i;
    const out: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== "") out.push(lines[i++]!);
    blocks.push({ command, expected: out.join("\n"), outputStart, outputEnd: i });
  }
  return blocks;
}

function formatMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${m.type} term=${m.term}`];
  if (m.type === "vote" || m.type === "preVote") parts.push(`last=${m.index}/${m.logTerm}${m.transfer ? " transfer" : ""}`);
  if (m.type === "append") parts.push(`prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map((e) => `${e.index}/${e.term}`).join(" ")}]`);
  if (m.type === "appendResponse") parts.push(m.reject ? `reject index=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `index=${m.index}`);
  if (m.type === "voteResponse" || m.type === "preVoteResponse") parts.push(m.reject ? "reject" : "grant");
  if (m.type === "heartbeat") parts.push(`commit=${m.commit}${m.readSeq ? ` read=${m.readSeq}` : ""}`);
  if (m.type === "heartbeatResponse" && m.readSeq) parts.push(`read=${m.readSeq}`);
  if (m.type === "catchup") parts.push(`index=${m.catchup!.index}/${m.catchup!.term} voters=${m.catchup!.membership.voters.join(",")}`);
  return parts.join(" ");
}

class Runner {
  c: Harness | null = null;

  private h(): Harness {
    if (!this.c) throw new Error("no cluster: start with `cluster voters=...`");
    return this.c;
  }

  run(command: string): string {
    const [name, ...args] = command.split(/\s+/);
    const n = (i: number) => Number(args[i]);
    switch (name) {
      case "cluster":
        return this.cluster(args);
      case "campaign":
        this.h().get(n(0)).node.campaign();
        return "ok";
      case "tick":
        this.h().tick(n(0), args[1] ? n(1) : 1);
        return "ok";
      case "tick-all":
        this.h().tickAll(args[0] ? n(0) : 1);
        return "ok";
      case "deliver":
        return this.deliver(args[0] === "quiet");
      case "drop-appends-from": {
        const id = n(0);
        this.h().drop = (m) => m.from === id && m.type === "append";
        return "ok";
      }
      case "propose":
        return JSON.stringify(this.h().get(n(0)).node.propose(args.slice(1).map((t) => utf8(t))));
      case "read-index":
        return JSON.stringify(this.h().get(n(0)).node.readIndex(utf8(args[1] ?? "")));
      case "read-states": {
        const states = this.h().get(n(0)).readStates.map((r) => `${fromUtf8(r.context)}@${r.index}`);
        return states.length > 0 ? states.join(" ") : "none";
      }
      case "transfer":
        return JSON.stringify(this.h().get(n(0)).node.transferLeadership(n(1)));
      case "config":
        return this.config(n(0), args[1]!, n(2));
      case "add-node":
        this.h().add(n(0), { voters: [], learners: [], index: 0 });
        return "ok";
      case "isolate":
        this.h().isolate(n(0));
        return "ok";
      case "cut":
        this.h().cut.add(`${n(0)}->${n(1)}`);
        this.h().cut.add(`${n(1)}->${n(0)}`);
        return "ok";
      case "heal":
        this.h().heal();
        this.h().drop = () => false;
        return "ok";
      case "compact":
        this.h().get(n(0)).storage.compact(n(1));
        return "ok";
      case "restart":
        this.h().restart(n(0));
        return "ok";
      case "status":
        return this.status();
      case "log":
        return this.log(n(0));
      case "applied":
        return this.h().appliedTexts(n(0)).join(" ") || "none";
      default:
        throw new Error(`unknown command ${name}`);
    }
  }

  private cluster(args: string[]): string {
    const opts = new Map(args.map((a) => a.split("=") as [string, string]));
    const ids = (key: string) => (opts.get(key) ?? "").split(",").filter(Boolean).map(Number);
    this.c = new Harness(
      ids("voters"),
      {
        preVote: opts.get("prevote") !== "false",
        checkQuorum: opts.get("checkquorum") !== "false",
        electionTimeoutTicks: Number(opts.get("election") ?? 10),
      },
      ids("learners"),
    );
    return "ok";
  }

  private deliver(quiet: boolean): string {
    const h = this.h();
    const before = h.delivered.length;
    h.deliverAll();
    const messages = h.delivered.slice(before);
    if (quiet) return `${messages.length} messages`;
    return messages.length > 0 ? messages.map(formatMessage).join("\n") : "none";
  }

  private config(id: number, kind: string, target: number): string {
    const kinds: Record<string, ConfigChange["kind"]> = { "add-voter": "addVoter", "add-learner": "addLearner", remove: "remove" };
    const k = kinds[kind];
    if (!k) throw new Error(`unknown config change ${kind}`);
    return JSON.stringify(this.h().get(id).node.proposeConfigChange({ kind: k, nodeId: target }));
  }

  private status(): string {
    const lines: string[] = [];
    for (const [id, hn] of [...this.h().nodes].sort((a, b) => a[0] - b[0])) {
      const s = hn.node.status();
      const members = `voters=${s.membership.voters.join(",")}${s.membership.learners.length ? ` learners=${s.membership.learners.join(",")}` : ""}`;
      lines.push(`${id}: ${s.role} term=${s.term} leader=${s.leader} commit=${s.commitIndex} applied=${s.appliedIndex} last=${s.lastIndex} ${members}`);
    }
    return lines.join("\n");
  }

  private log(id: number): string {
    const s = this.h().get(id).storage;
    const out: string[] = [];
    if (s.firstIndex() > 1) out.push(`(compacted to ${s.firstIndex() - 1}/${s.term(s.firstIndex() - 1)})`);
    if (s.lastIndex() >= s.firstIndex()) {
      for (const e of s.entries(s.firstIndex(), s.lastIndex() + 1, Number.MAX_SAFE_INTEGER)) {
        out.push(`${e.index}/${e.term}${e.type === "config" ? " config" : e.data.length ? ` ${fromUtf8(e.data)}` : ""}`);
      }
    }
    return out.join("\n") || "empty";
  }
}

const rewrite = process.env.RAFT_SCRIPT_REWRITE === "1";

describe("protocol scripts", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
    test(file, () => {
      const path = `${dir}/${file}`;
      const text = readFileSync(path, "utf8");
      const blocks = parse(text);
      const runner = new Runner();
      const actual = blocks.map((b) => ({ ...b, actual: runner.run(b.command) }));
      if (rewrite) {
        const lines = text.split("\n");
        for (const b of [...actual].reverse()) lines.splice(b.outputStart, b.outputEnd - b.outputStart, ...b.actual.split("\n"));
        writeFileSync(path, lines.join("\n"));
        return;
      }
      for (const b of actual) expect(`${b.command}\n${b.actual}`).toBe(`${b.command}\n${b.expected}`);
    });
  }
});
