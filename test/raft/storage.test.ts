import { MemoryStorage } from "../../src/raft/index.ts";
import { storageContract } from "./storage-contract.ts";

storageContract("MemoryStorage", (membership) => new MemoryStorage(membership));
