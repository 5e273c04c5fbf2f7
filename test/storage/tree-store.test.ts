import { Database } from "bun:sqlite";
import { SqliteTreeStore } from "../../src/storage/tree-store.ts";
import { runTreeStoreContract } from "../merkle/tree-store-contract.ts";

runTreeStoreContract("sqlite", () => new SqliteTreeStore(new Database(":memory:")));
