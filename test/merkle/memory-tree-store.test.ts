import { MemoryTreeStore } from "../../src/merkle/index.ts";
import { runTreeStoreContract } from "./tree-store-contract.ts";

runTreeStoreContract("memory", () => new MemoryTreeStore());
