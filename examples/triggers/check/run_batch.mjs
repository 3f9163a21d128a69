// Runs one batch through a trigger module in the stand-in host and prints the outcome as JSON:
//   node check/run_batch.mjs module.wasm < batch.json
//   -> {"ok": true, "failures": [...], "logs": [...], "writes": [{"fn": "put_item", "request": {...}}]}
// check/e2e.py uses it when the eddy binary has no trigger API yet: it feeds the module the
// server's real stream records and applies the write-backs through the DynamoDB API.
import { readFileSync } from "node:fs";
import { load, invoke } from "./host.mjs";

const { module } = load(process.argv[2]);
const out = invoke(module, readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify({ ok: out.ok, code: out.code, failures: out.failures, logs: out.logs, writes: out.writes }));
