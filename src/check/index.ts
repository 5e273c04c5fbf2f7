/** @module check. Correctness checkers shared by the simulator and the end-to-end tests. */
export {
  checkKvHistory,
  checkKeyHistory,
  checkStepsMaxDefault,
  type Operation,
  type KvKind,
  type CheckResult,
  type CheckOptions,
} from "./linearizability.ts";
export { HistoryRecorder, recordWriteAnswer, writeAnswerOf, type PendingOperation, type WriteAnswer } from "./history.ts";
