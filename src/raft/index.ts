/**
 * @module raft. A pure, deterministic Raft core in the style of etcd-io/raft. See docs/RAFT.md
 * and the Ready/Advance contract in raw-node.ts.
 */
export { RawNode, type Ready, type CatchupInstall, type RaftStatus } from "./raw-node.ts";
export {
  Raft,
  raftDefaults,
  type RaftConfig,
  type ProposeResult,
  type ProposeFailure,
  type ReadIndexResult,
  type TransferResult,
} from "./raft.ts";
export {
  MemoryStorage,
  CompactedError,
  UnavailableError,
  type RaftStorage,
  type InitialState,
} from "./storage.ts";
export { Progress, Inflights, type ProgressState } from "./progress.ts";
export {
  encodeMessage,
  decodeMessage,
  encodeEntry,
  decodeEntry,
  encodeMembership,
  decodeMembership,
} from "./codec.ts";
export {
  encodeConfigChange,
  decodeConfigChange,
  applyConfigChange,
  validateConfigChange,
  membershipOfConfigEntry,
  type ConfigEntryData,
} from "./config-change.ts";
export {
  NONE,
  emptyMessage,
  copyMembership,
  hardStateEqual,
  isEmptyHardState,
  entryBytes,
  type NodeId,
  type Entry,
  type EntryType,
  type HardState,
  type Membership,
  type ConfigChange,
  type Role,
  type Message,
  type MessageType,
  type CatchupInfo,
  type ReadState,
  type SoftState,
} from "./types.ts";
