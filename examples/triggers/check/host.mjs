// A stand-in for Eddy's trigger host, in plain Node.js (no packages): it checks a module
// against the guest ABI of docs/triggers.md and runs batches through it the way the
// sandbox does (a fresh instance per batch, alloc + handle, the `eddy` host functions,
// write-backs buffered and shape-checked, the response parsed). It lets check.sh test the
// example modules without a server; the end-to-end run against `eddy serve` is separate.

import { readFileSync } from "node:fs";

const HOST_FUNCTIONS = {
  log: { params: ["i32", "i32"], results: [] },
  get_item: { params: ["i32", "i32"], results: ["i64"] },
  put_item: { params: ["i32", "i32"], results: ["i32"] },
  update_item: { params: ["i32", "i32"], results: ["i32"] },
  delete_item: { params: ["i32", "i32"], results: ["i32"] },
};

// ---- a minimal reader of the binary format: types, imports, functions, exports ---------

const VALTYPES = { 0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref" };

function parseModule(bytes) {
  let pos = 8;
  const u8 = () => bytes[pos++];
  const uleb = () => {
    let result = 0, shift = 0, b;
    do {
      b = bytes[pos++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return result;
  };
  const name = () => {
    const n = uleb();
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const limits = () => {
    const flags = u8();
    const min = uleb();
    const max = flags & 1 ? uleb() : undefined;
    return { flags, min, max, shared: !!(flags & 2), memory64: !!(flags & 4) };
  };
  const types = [], imports = [], funcs = [], exports = [], memories = [];
  while (pos < bytes.length) {
    const id = u8();
    const size = uleb();
    const end = pos + size;
    if (id === 1) {
      for (let n = uleb(); n > 0; n--) {
        if (u8() !== 0x60) throw new Error("unsupported type form");
        const params = Array.from({ length: uleb() }, () => VALTYPES[u8()]);
        const results = Array.from({ length: uleb() }, () => VALTYPES[u8()]);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = uleb(); n > 0; n--) {
        const module = name(), field = name(), kind = u8();
        let desc;
        if (kind === 0) desc = { type: uleb() };
        else if (kind === 1) { u8(); desc = limits(); }
        else if (kind === 2) desc = limits();
        else if (kind === 3) { u8(); u8(); desc = {}; }
        else throw new Error(`import kind ${kind}`);
        imports.push({ module, field, kind, ...desc });
        if (kind === 0) funcs.push(desc.type);
        if (kind === 2) memories.push(desc);
      }
    } else if (id === 3) {
      for (let n = uleb(); n > 0; n--) funcs.push(uleb());
    } else if (id === 5) {
      for (let n = uleb(); n > 0; n--) memories.push(limits());
    } else if (id === 7) {
      for (let n = uleb(); n > 0; n--) exports.push({ name: name(), kind: u8(), index: uleb() });
    }
    pos = end;
  }
  return { types, imports, funcs, exports, memories };
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const sig = (t) => `(${t.params.join(" ")}) -> (${t.results.join(" ")})`;

// Throws unless the module meets the ABI, as the sandbox checks it at registration.
export function checkAbi(bytes) {
  const m = parseModule(bytes);
  const exp = (name) => m.exports.find((e) => e.name === name);
  const memory = exp("memory");
  if (!memory || memory.kind !== 2) throw new Error("no memory export named `memory`");
  const mem = m.memories[memory.index];
  if (mem.shared || mem.memory64) throw new Error("`memory` must be a 32-bit, unshared memory");
  for (const [name, want] of [
    ["alloc", { params: ["i32"], results: ["i32"] }],
    ["handle", { params: ["i32", "i32"], results: ["i64"] }],
  ]) {
    const e = exp(name);
    if (!e || e.kind !== 0) throw new Error(`no function export \`${name}\``);
    const t = m.types[m.funcs[e.index]];
    if (!same(t.params, want.params) || !same(t.results, want.results))
      throw new Error(`\`${name}\` is ${sig(t)}, wants ${sig(want)}`);
  }
  for (const i of m.imports) {
    if (i.module !== "eddy") throw new Error(`forbidden import ${i.module}.${i.field}`);
    const want = HOST_FUNCTIONS[i.field];
    if (!want) throw new Error(`unknown host function eddy.${i.field}`);
    const t = i.kind === 0 ? m.types[i.type] : null;
    if (!t || !same(t.params, want.params) || !same(t.results, want.results))
      throw new Error(`eddy.${i.field} imported with the wrong type`);
  }
  return { imports: m.imports.map((i) => `${i.module}.${i.field}`), initialPages: mem.min };
}

// ---- running a batch ---------------------------------------------------------------------

const WRITE_FIELDS = { put_item: "Item", update_item: "Key", delete_item: "Key" };

// The shape check of triggers/src/sandbox/writeback.rs (check_request).
function checkWrite(fn, req) {
  if (typeof req !== "object" || req === null || Array.isArray(req)) return "request is not a JSON object";
  if (typeof req.TableName !== "string" || req.TableName === "") return "TableName must be a non-empty string";
  const target = WRITE_FIELDS[fn];
  const isObj = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObj(req[target])) return `${target} must be a JSON object`;
  if (fn === "update_item" && typeof req.UpdateExpression !== "string") return "UpdateExpression must be a string";
  if (fn !== "update_item" && "UpdateExpression" in req) return `UpdateExpression is not allowed in ${fn}`;
  for (const [k, v] of Object.entries(req)) {
    const ok =
      k === "TableName" || k === "UpdateExpression" || k === target ||
      (k === "ConditionExpression" && typeof v === "string") ||
      ((k === "ExpressionAttributeNames" || k === "ExpressionAttributeValues") && isObj(v));
    if (!ok) return `field \`${k}\` is not allowed or has the wrong type in ${fn}`;
  }
  return null;
}

export class BadHostCall extends Error {}

// Runs one batch in a fresh instance. `reader(table, key)` answers get_item (committed state).
// Returns { ok, code?, response?, failures, logs, writes }.
export function invoke(module, batch, reader = () => null) {
  const logs = [], writes = [];
  let memory;
  const read = (ptr, len) => {
    if (ptr < 0 || len < 0 || ptr + len > memory.buffer.byteLength) throw new BadHostCall(`(${ptr}, ${len}) is outside memory`);
    return new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len));
  };
  const write = (fn) => (ptr, len) => {
    const text = read(ptr >>> 0, len >>> 0);
    let req, why;
    try { req = JSON.parse(text); } catch (e) { why = `not JSON: ${e.message}`; }
    why ??= checkWrite(fn, req);
    if (why) { logs.push(`eddy: ${fn} rejected: ${why}`); return -1; }
    writes.push({ fn, request: req });
    return 0;
  };
  const imports = {
    eddy: {
      log: (ptr, len) => { logs.push(read(ptr >>> 0, len >>> 0)); },
      get_item: (ptr, len) => {
        let req;
        try { req = JSON.parse(read(ptr >>> 0, len >>> 0)); } catch { return -1n; }
        const item = reader(req.TableName, req.Key);
        const out = new TextEncoder().encode(JSON.stringify(item ? { Item: item } : {}));
        const p = instance.exports.alloc(out.length) >>> 0;
        new Uint8Array(memory.buffer, p, out.length).set(out);
        return (BigInt(p) << 32n) | BigInt(out.length);
      },
      put_item: write("put_item"),
      update_item: write("update_item"),
      delete_item: write("delete_item"),
    },
  };
  const instance = new WebAssembly.Instance(module, imports);
  memory = instance.exports.memory;
  const input = new TextEncoder().encode(typeof batch === "string" ? batch : JSON.stringify(batch));
  const ptr = instance.exports.alloc(input.length) >>> 0;
  if (ptr + input.length > memory.buffer.byteLength) throw new Error(`alloc(${input.length}) returned ${ptr}, outside memory`);
  new Uint8Array(memory.buffer, ptr, input.length).set(input);
  const packed = instance.exports.handle(ptr, input.length);
  if (packed < 0n) return { ok: false, code: Number(packed), failures: [], logs, writes };
  const rp = Number(packed >> 32n), rl = Number(packed & 0xffffffffn);
  const text = rl === 0 ? "{}" : read(rp, rl);
  const response = JSON.parse(text); // throws on an invalid response, as the sandbox fails the batch
  if (typeof response !== "object" || response === null || Array.isArray(response)) throw new Error(`response is not an object: ${text}`);
  const failures = (response.batchItemFailures ?? []).map((f) => {
    if (typeof f?.itemIdentifier !== "string" || f.itemIdentifier === "") throw new Error(`bad failure entry in ${text}`);
    return f.itemIdentifier;
  });
  return { ok: true, response, failures, logs, writes };
}

export function load(path) {
  const bytes = readFileSync(path);
  const abi = checkAbi(bytes);
  return { module: new WebAssembly.Module(bytes), abi, size: bytes.length };
}

// ---- exact decimals (BigInt mantissa, power-of-ten exponent) -------------------------------

export function parseDecimal(s) {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m || (m[2] + (m[3] ?? "")) === "") throw new Error(`not a number: ${s}`);
  const frac = m[3] ?? "";
  const mant = BigInt(m[2] + frac || "0") * (m[1] === "-" ? -1n : 1n);
  return { m: mant, e: Number(m[4] ?? 0) - frac.length };
}

export function addDecimal(a, b) {
  const e = Math.min(a.e, b.e);
  return { m: a.m * 10n ** BigInt(a.e - e) + b.m * 10n ** BigInt(b.e - e), e };
}

// Canonical text, for comparing numbers written differently ("1.50" and "15E-1").
export function formatDecimal(d) {
  let { m, e } = d;
  if (m === 0n) return "0";
  while (m % 10n === 0n) { m /= 10n; e++; }
  const neg = m < 0n;
  let digits = (neg ? -m : m).toString();
  if (e >= 0) digits += "0".repeat(e);
  else {
    if (digits.length <= -e) digits = "0".repeat(-e - digits.length + 1) + digits;
    digits = digits.slice(0, digits.length + e) + "." + digits.slice(digits.length + e);
  }
  return (neg ? "-" : "") + digits;
}
