/**
 * @module cli/commands. Every `scribe` command, in the order the help lists them. A new command
 * is a file beside these and one entry here.
 */

import type { Command } from "../command.ts";
import { members, status } from "./cluster.ts";
import { history } from "./history.ts";
import { list } from "./list.ts";
import { audit, checkpoint } from "./proofs.ts";
import { get, verify } from "./read.ts";
import { mirror } from "./mirror.ts";
import { watch } from "./watch.ts";
import { del, put } from "./write.ts";

export const commands: readonly Command[] = [put, get, del, history, list, watch, verify, checkpoint, audit, mirror, members, status];
