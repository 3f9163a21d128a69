// Runs the three example modules through the stand-in host (host.mjs) on made-up batches
// shaped like Eddy's (streams/src/record.rs): `node --test examples/triggers/check/`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { load, invoke, parseDecimal, addDecimal, formatDecimal } from "./host.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const countFilter = load(join(ROOT, "count-filter/count_filter.wasm"));
const orderTotals = load(join(ROOT, "order-totals/order_totals.wasm"));
const auditLog = load(join(ROOT, "audit-log/audit_log.wasm"));

const ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/2025-01-01T00:00:00.000";

// A record as Eddy encodes it (keys in the order serde_json writes them).
let nextSeq = 1;
function record(eventName, keys, oldImage, newImage, { seq = nextSeq++, arn = ARN } = {}) {
  const dynamodb = { ApproximateCreationDateTime: 1700000000 + seq, Keys: keys };
  if (newImage) dynamodb.NewImage = newImage;
  if (oldImage) dynamodb.OldImage = oldImage;
  dynamodb.SequenceNumber = String(seq).padStart(21, "0");
  dynamodb.SizeBytes = 26;
  dynamodb.StreamViewType = "NEW_AND_OLD_IMAGES";
  const r = { awsRegion: "us-east-1", dynamodb, eventID: `e${seq}`, eventName, eventSource: "aws:dynamodb" };
  if (arn) r.eventSourceARN = arn;
  r.eventVersion = "1.1";
  return r;
}
const S = (s) => ({ S: s });
const N = (n) => ({ N: String(n) });

// Every prefix of the batch (and a few corruptions) must run without trapping.
function survivesTruncation(mod, batch) {
  const text = JSON.stringify(batch);
  for (let n = 0; n <= text.length; n++) {
    const out = invoke(mod.module, text.slice(0, n));
    assert.ok(out.ok || out.code < 0);
  }
  for (const junk of ["", "[]", "null", "{\"Records\":{}}", "{\"Records\":[1,\"x\",[],{}]}", "\"\\", "{\"Records\":[{\"a\":\"\\\"}]}"]) {
    invoke(mod.module, junk);
  }
}

// ---- count-filter --------------------------------------------------------------------------

test("count-filter: the ABI, and only eddy.log imported", () => {
  assert.deepEqual(countFilter.abi.imports, ["eddy.log"]);
});

function filterBatch() {
  const k = (id) => ({ id: S(id) });
  return {
    Records: [
      record("INSERT", k("a"), null, { id: S("a"), status: S("open") }),
      record("INSERT", k("b"), null, { id: S("b"), status: S("closed"), note: S("status open INSERT") }),
      record("MODIFY", k("a"), { id: S("a"), status: S("open") }, { id: S("a"), status: S("open"), n: N(1) }),
      record("INSERT", k("c"), null, { id: S("c"), status: N(1) }),
      record("REMOVE", k("a"), { id: S("a"), status: S("open") }, null),
      record("INSERT", k("d"), null, { id: S("d"), nested: { M: { status: S("open") } }, status: S("open") }),
      record("INSERT", k("e"), null, { id: S("e"), status: S("opened") }),
      record("INSERT", k("f"), null, { id: S("f") }),
    ],
  };
}
const FILTER_LINE = (open, total) => `count-filter: ${open} of ${total} records are INSERTs with status = "open"`;

test("count-filter: counts INSERTs with status = \"open\"", () => {
  const out = invoke(countFilter.module, filterBatch());
  assert.deepEqual(out.response, {});
  assert.deepEqual(out.logs, [FILTER_LINE(2, 8)]);
  assert.deepEqual(out.writes, []);
});

test("count-filter: key order and whitespace do not matter", () => {
  const reversed = (v) =>
    Array.isArray(v) ? v.map(reversed)
    : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)]))
    : v;
  const text = JSON.stringify(reversed(filterBatch()), null, "\t").replace(/\n/g, "\r\n");
  assert.deepEqual(invoke(countFilter.module, text).logs, [FILTER_LINE(2, 8)]);
});

test("count-filter: an empty batch, a big batch", () => {
  assert.deepEqual(invoke(countFilter.module, { Records: [] }).logs, [FILTER_LINE(0, 0)]);
  const big = { Records: [] };
  for (let i = 0; i < 5000; i++) {
    big.Records.push(record("INSERT", { id: S(`k${i}`) }, null, { id: S(`k${i}`), status: S(i % 3 ? "open" : "done") }));
  }
  assert.deepEqual(invoke(countFilter.module, big).logs, [FILTER_LINE(3333, 5000)]);
});

test("count-filter: truncated and malformed batches do not trap", () => survivesTruncation(countFilter, filterBatch()));

// ---- order-totals --------------------------------------------------------------------------

test("order-totals: the ABI, imports log and update_item", () => {
  assert.deepEqual(orderTotals.abi.imports, ["eddy.log", "eddy.update_item"]);
});

const update = (customer, delta) => ({
  fn: "update_item",
  request: {
    TableName: "CustomerTotals",
    Key: { customer: S(customer) },
    UpdateExpression: "ADD total_amount :delta",
    ExpressionAttributeValues: { ":delta": N(delta) },
  },
});
const order = (id, customer, amount, extra = {}) => {
  const item = { order: S(id), ...extra };
  if (customer !== undefined) item.customer = S(customer);
  if (amount !== undefined) item.amount = N(amount);
  return item;
};

test("order-totals: INSERT, MODIFY and REMOVE give exact decimal deltas", () => {
  const k = (id) => ({ order: S(id) });
  const batch = {
    Records: [
      record("INSERT", k("o1"), null, order("o1", "alice", "10.25")),
      record("MODIFY", k("o1"), order("o1", "alice", "10.25"), order("o1", "alice", "3")),
      record("MODIFY", k("o1"), order("o1", "alice", "3"), order("o1", "alice", "3", { note: S("x") })),
      record("MODIFY", k("o1"), order("o1", "alice", "3"), order("o1", "bob", "4.5")),
      record("REMOVE", k("o1"), order("o1", "bob", "4.5"), null),
      record("INSERT", k("o2"), null, order("o2", "Zoë \"Z\" \\", "1E+2")),
      record("INSERT", k("o3"), null, order("o3", "carol", "1E-130")),
      record("MODIFY", k("o3"), order("o3", "carol", "1E-130"), order("o3", "carol", "9.99E+125")),
      record("INSERT", k("o4"), null, order("o4", "dave", undefined)),
      record("INSERT", k("o5"), null, order("o5", undefined, "7")),
      record("MODIFY", k("o4"), order("o4", "dave", undefined), order("o4", "dave", "-0.50")),
      record("INSERT", k("o6"), null, order("o6", "erin", "0.000")),
    ],
  };
  const out = invoke(orderTotals.module, batch);
  assert.deepEqual(out.response, {});
  assert.deepEqual(out.writes, [
    update("alice", "10.25"),
    update("alice", "-7.25"),
    update("alice", "-3"),
    update("bob", "4.5"),
    update("bob", "-4.5"),
    update("Zoë \"Z\" \\", "100"),
    update("carol", "0." + "0".repeat(129) + "1"),
    update("carol", formatDecimal(addDecimal(parseDecimal("9.99E+125"), parseDecimal("-1E-130")))),
    update("dave", "-0.5"),
  ]);
  assert.deepEqual(out.logs, ["order-totals: records=12 updates=9 failed=0"]);
});

test("order-totals: a record it cannot apply fails with every record after it", () => {
  const k = (id) => ({ order: S(id) });
  const ok1 = record("INSERT", k("o1"), null, order("o1", "alice", "1"));
  const bad = record("MODIFY", k("o1"), null, order("o1", "alice", "2")); // no OldImage
  const ok2 = record("INSERT", k("o2"), null, order("o2", "bob", "5"));
  const out = invoke(orderTotals.module, { Records: [ok1, bad, ok2] });
  assert.deepEqual(out.writes, [update("alice", "1")]);
  assert.deepEqual(out.failures, [bad.dynamodb.SequenceNumber, ok2.dynamodb.SequenceNumber]);
  assert.match(out.logs[0], /^order-totals: record 0+\d+ failed: the record has no OldImage/);

  const nan = record("INSERT", k("o3"), null, { order: S("o3"), customer: S("c"), amount: N("1..2") });
  assert.deepEqual(invoke(orderTotals.module, { Records: [nan] }).failures, [nan.dynamodb.SequenceNumber]);
});

// A deterministic PRNG, so a failure reproduces.
function prng(seed) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

test("order-totals: after random changes in random batches, totals equal a recomputation", () => {
  const rand = prng(42);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const customers = ["c1", "c2", "c3", "c4", "Ünïcode \"q\""];
  const amounts = ["1", "2.5", "10", "0.01", "99.99", "1000000", "-3", "0", "12345678901234567890.123456789"];
  const orders = new Map(); // order id -> item
  const records = [];
  for (let i = 0; i < 3000; i++) {
    const ids = [...orders.keys()];
    const roll = rand();
    if (roll < 0.4 || ids.length === 0) {
      const id = `o${i}`;
      const item = order(id, pick(customers), pick(amounts));
      orders.set(id, item);
      records.push(record("INSERT", { order: S(id) }, null, item));
    } else if (roll < 0.8) {
      const id = pick(ids);
      const old = orders.get(id);
      const r = rand();
      const item =
        r < 0.4 ? order(id, old.customer.S, pick(amounts))
        : r < 0.7 ? order(id, pick(customers), old.amount.N)
        : r < 0.85 ? order(id, pick(customers), pick(amounts))
        : { ...old, note: S(`n${i}`) };
      orders.set(id, item);
      records.push(record("MODIFY", { order: S(id) }, old, item));
    } else {
      const id = pick(ids);
      records.push(record("REMOVE", { order: S(id) }, orders.get(id), null));
      orders.delete(id);
    }
  }
  const totals = new Map();
  let updates = 0;
  for (let i = 0; i < records.length; ) {
    const n = 1 + Math.floor(rand() * 100);
    const out = invoke(orderTotals.module, { Records: records.slice(i, i + n) });
    assert.deepEqual(out.failures, []);
    for (const w of out.writes) {
      assert.equal(w.request.UpdateExpression, "ADD total_amount :delta");
      const c = w.request.Key.customer.S;
      const delta = parseDecimal(w.request.ExpressionAttributeValues[":delta"].N);
      assert.notEqual(delta.m, 0n, "no write for a change that moves no total");
      totals.set(c, addDecimal(totals.get(c) ?? { m: 0n, e: 0 }, delta));
      updates++;
    }
    i += n;
  }
  const expected = new Map();
  for (const item of orders.values()) {
    const c = item.customer.S;
    expected.set(c, addDecimal(expected.get(c) ?? { m: 0n, e: 0 }, parseDecimal(item.amount.N)));
  }
  const canon = (m) =>
    Object.fromEntries([...m].map(([c, d]) => [c, formatDecimal(d)]).filter(([, v]) => v !== "0").sort());
  assert.deepEqual(canon(totals), canon(expected));
  assert.ok(updates > 2000);
});

test("order-totals: truncated and malformed batches do not trap", () => {
  const k = { order: S("o1") };
  survivesTruncation(orderTotals, {
    Records: [
      record("INSERT", k, null, order("o1", "a", "1.5")),
      record("MODIFY", k, order("o1", "a", "1.5"), order("o1", "b", "2")),
      record("REMOVE", k, order("o1", "b", "2"), null),
    ],
  });
});

// ---- audit-log --------------------------------------------------------------------------------

test("audit-log: the ABI, imports log and put_item", () => {
  assert.deepEqual(auditLog.abi.imports, ["eddy.log", "eddy.put_item"]);
});

test("audit-log: one audit item per record", () => {
  const keys = { order: S("o\"1"), n: N(7) };
  const recs = [
    record("INSERT", keys, null, { ...keys, x: S("y") }, { seq: 5 }),
    record("MODIFY", keys, { ...keys, x: S("y") }, { ...keys, x: S("z") }, { seq: 6 }),
    record("REMOVE", keys, { ...keys, x: S("z") }, null, { seq: 7, arn: null }),
  ];
  recs[1].dynamodb.ApproximateCreationDateTime = "1678831218.0"; // as in some Lambda test events
  const out = invoke(auditLog.module, { Records: recs });
  assert.deepEqual(out.response, {});
  const item = (pk, event, at, id) => ({
    fn: "put_item",
    request: { TableName: "AuditLog", Item: { pk: S(pk), event: S(event), keys: { M: keys }, at: N(at), eventID: S(id) } },
  });
  assert.deepEqual(out.writes, [
    item("Orders#000000000000000000005", "INSERT", "1700000005", "e5"),
    item("Orders#000000000000000000006", "MODIFY", "1678831218.0", "e6"),
    item("unknown#000000000000000000007", "REMOVE", "1700000007", "e7"),
  ]);
  assert.deepEqual(out.logs, ["audit-log: records=3 written=3 failed=0"]);
});

test("audit-log: a record without Keys fails with every record after it", () => {
  const a = record("INSERT", { id: S("a") }, null, { id: S("a") });
  const b = record("INSERT", { id: S("b") }, null, { id: S("b") });
  delete b.dynamodb.Keys;
  const c = record("INSERT", { id: S("c") }, null, { id: S("c") });
  const out = invoke(auditLog.module, { Records: [a, b, c] });
  assert.equal(out.writes.length, 1);
  assert.deepEqual(out.failures, [b.dynamodb.SequenceNumber, c.dynamodb.SequenceNumber]);
});

test("audit-log: a big batch, truncated and malformed batches", () => {
  const big = { Records: [] };
  for (let i = 0; i < 1000; i++) big.Records.push(record("INSERT", { id: S(`k${i}`) }, null, { id: S(`k${i}`), pad: S("x".repeat(200)) }));
  const out = invoke(auditLog.module, big);
  assert.equal(out.writes.length, 1000);
  assert.deepEqual(out.failures, []);
  survivesTruncation(auditLog, { Records: big.Records.slice(0, 3) });
});
