// audit-log: an Eddy trigger, in AssemblyScript, that writes one audit item per change.
//
// For every record of the batch it issues
//
//   put_item {"TableName": "AuditLog", "Item": {
//     "pk":      {"S": "<table>#<SequenceNumber>"},
//     "event":   {"S": "INSERT" | "MODIFY" | "REMOVE"},
//     "keys":    {"M": <the record's Keys>},
//     "at":      {"N": "<ApproximateCreationDateTime, epoch seconds>"},
//     "eventID": {"S": "<eventID>"}}}
//
// <table> is the source table's name, read from the record's eventSourceARN
// (".../table/<name>/stream/..."); records without one use FALLBACK_TABLE. The key
// "<table>#<seq>" is unique per change, so a record that is delivered again (a replay from
// the dead-letter table) overwrites its own audit item instead of adding a second one.
//
// A record whose put_item the host refuses is reported in batchItemFailures together with
// every record after it, and nothing more is written: the write-backs issued are exactly
// those of the records before the first failure.
//
// Guest ABI: docs/triggers.md. Built with `--runtime stub --use abort=`, so the only
// imports are the `eddy` host functions below. The batch is walked as raw UTF-8 bytes in
// linear memory; strings are copied as written, escapes included, which keeps them valid
// JSON without decoding them.

const AUDIT_TABLE = "AuditLog";
const FALLBACK_TABLE = "unknown";

@external("eddy", "log")
declare function eddy_log(ptr: usize, len: i32): void;

@external("eddy", "put_item")
declare function eddy_put_item(ptr: usize, len: i32): i32;

// ---- alloc ------------------------------------------------------------------------

// The stub runtime's bump allocator: every batch runs in a fresh instance.
export function alloc(len: i32): usize {
  return heap.alloc(<usize>len);
}

// ---- an output buffer -------------------------------------------------------------

class Buf {
  ptr: usize = 0;
  len: i32 = 0;
  cap: i32 = 0;

  reserve(more: i32): void {
    if (this.len + more <= this.cap) return;
    let cap = this.cap > 0 ? this.cap : 256;
    while (cap < this.len + more) cap *= 2;
    const ptr = heap.alloc(<usize>cap);
    memory.copy(ptr, this.ptr, <usize>this.len);
    this.ptr = ptr;
    this.cap = cap;
  }

  bytes(src: usize, n: i32): void {
    this.reserve(n);
    memory.copy(this.ptr + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  // ASCII text only: the literals of this file.
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    for (let i = 0; i < n; i++) store<u8>(this.ptr + <usize>(this.len + i), <u8>s.charCodeAt(i));
    this.len += n;
  }

  raw(s: Raw): void {
    this.bytes(s.ptr, s.len);
  }

  u32(n: u32): void {
    this.ascii(n.toString());
  }
}

// ---- a JSON walker ------------------------------------------------------------------
// Values are addressed by the position of their first byte; 0 means "absent" (the batch
// never starts at 0), so lookups chain. Reads past the end of the batch see 0 and every
// loop advances or stops, so malformed input cannot run off the buffer or loop forever.

let END: usize = 0;

// @ts-ignore: decorator
@inline function at(p: usize): u32 {
  return p != 0 && p < END ? <u32>load<u8>(p) : 0;
}

function ws(p: usize): usize {
  let c = at(p);
  while (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) c = at(++p);
  return p;
}

// p at '"': the position after the closing quote.
function skipString(p: usize): usize {
  for (p++; p < END; p++) {
    const c = load<u8>(p);
    if (c == 0x5c) p++; // backslash: skip the escaped byte
    else if (c == 0x22) return p + 1;
  }
  return END;
}

// p at any value: the position after it. Brackets are counted, so no recursion.
function skipValue(p: usize): usize {
  let c = at(p);
  if (c == 0x22) return skipString(p);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (p < END) {
      c = load<u8>(p);
      if (c == 0x22) {
        p = skipString(p);
        continue;
      }
      if (c == 0x7b || c == 0x5b) depth++;
      if (c == 0x7d || c == 0x5d) depth--;
      p++;
      if (depth == 0) break;
    }
    return p;
  }
  while (p < END) {
    c = load<u8>(p);
    if (c == 0x2c || c == 0x7d || c == 0x5d || c <= 0x20) break;
    p++;
  }
  return p;
}

// A span of the batch: a string's bytes between its quotes, or a whole value.
class Raw {
  constructor(public ptr: usize = 0, public len: i32 = 0) {}

  is(s: string): bool {
    if (this.len != s.length) return false;
    for (let i = 0; i < this.len; i++) {
      if (<i32>load<u8>(this.ptr + <usize>i) != s.charCodeAt(i)) return false;
    }
    return true;
  }
}

// The contents of the string at p, or null when p is not at a complete string.
function str(p: usize): Raw | null {
  if (at(p) != 0x22) return null;
  const e = skipString(p);
  if (e - p < 2 || load<u8>(e - 1) != 0x22) return null;
  return new Raw(p + 1, <i32>(e - p - 2));
}

// The value of member `key` of the object at obj, or 0.
function find(obj: usize, key: string): usize {
  if (at(obj) != 0x7b) return 0;
  let p = ws(obj + 1);
  while (at(p) == 0x22) {
    const k = str(p);
    p = ws(skipString(p));
    if (at(p) != 0x3a) return 0; // ':'
    p = ws(p + 1);
    if (k != null && k.is(key)) return p;
    p = ws(skipValue(p));
    if (at(p) != 0x2c) return 0; // ','
    p = ws(p + 1);
  }
  return 0;
}

// ---- the audit item -----------------------------------------------------------------

// The table name in an eventSourceARN: "arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>".
function tableOf(arn: Raw | null): Raw | null {
  if (arn == null) return null;
  const n = arn.len;
  for (let i = 0; i + 6 <= n; i++) {
    if (!new Raw(arn.ptr + <usize>i, 6).is("table/")) continue;
    const start = i + 6;
    let end = start;
    while (end < n && load<u8>(arn.ptr + <usize>end) != 0x2f) end++;
    return end > start ? new Raw(arn.ptr + <usize>start, end - start) : null;
  }
  return null;
}

const request = new Buf();

// Writes the audit item of the record at rec. Returns the reason when it cannot.
function audit(rec: usize, seq: Raw): string | null {
  const ddb = find(rec, "dynamodb");
  const event = str(find(rec, "eventName"));
  if (event == null) return "the record has no eventName";
  const keys = find(ddb, "Keys");
  if (at(keys) != 0x7b) return "the record has no Keys";

  request.len = 0;
  request.ascii('{"TableName":"' + AUDIT_TABLE + '","Item":{"pk":{"S":"');
  const table = tableOf(str(find(rec, "eventSourceARN")));
  if (table != null) request.raw(table);
  else request.ascii(FALLBACK_TABLE);
  request.ascii("#");
  request.raw(seq);
  request.ascii('"},"event":{"S":"');
  request.raw(event);
  request.ascii('"},"keys":{"M":');
  request.bytes(keys, <i32>(skipValue(keys) - keys));
  request.ascii("}");

  // ApproximateCreationDateTime: a JSON number (Eddy, the Streams API) or a string
  // holding one (some Lambda test events): either way its digits go in as they are.
  const atValue = find(ddb, "ApproximateCreationDateTime");
  const atString = str(atValue);
  const c = at(atValue);
  if (atString != null) {
    request.ascii(',"at":{"N":"');
    request.raw(atString);
    request.ascii('"}');
  } else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
    request.ascii(',"at":{"N":"');
    request.bytes(atValue, <i32>(skipValue(atValue) - atValue));
    request.ascii('"}');
  }

  const id = str(find(rec, "eventID"));
  if (id != null) {
    request.ascii(',"eventID":{"S":"');
    request.raw(id);
    request.ascii('"}');
  }
  request.ascii("}}");

  return eddy_put_item(request.ptr, request.len) == 0 ? null : "the host refused the put_item request";
}

// ---- handle ---------------------------------------------------------------------------

export function handle(ptr: usize, len: i32): i64 {
  END = ptr + <usize>len;
  const response = new Buf();
  const line = new Buf();
  let records: u32 = 0;
  let written: u32 = 0;
  let failed: u32 = 0;

  let p = find(ws(ptr), "Records");
  if (at(p) == 0x5b) {
    p = ws(p + 1);
    while (p < END && at(p) != 0x5d) {
      records++;
      const seq = str(find(find(p, "dynamodb"), "SequenceNumber"));
      if (seq == null) {
        line.ascii("audit-log: a record has no SequenceNumber; failing the batch");
        eddy_log(line.ptr, line.len);
        return -2;
      }
      const why = failed > 0 ? "an earlier record of the batch failed" : audit(p, seq);
      if (why == null) {
        written++;
      } else {
        if (failed == 0) {
          line.ascii("audit-log: record ");
          line.raw(seq);
          line.ascii(" failed: " + why);
          eddy_log(line.ptr, line.len);
          line.len = 0;
          response.ascii('{"batchItemFailures":[');
        } else {
          response.ascii(",");
        }
        response.ascii('{"itemIdentifier":"');
        response.raw(seq);
        response.ascii('"}');
        failed++;
      }
      p = ws(skipValue(p));
      if (at(p) != 0x2c) break;
      p = ws(p + 1);
    }
  }

  line.ascii("audit-log: records=");
  line.u32(records);
  line.ascii(" written=");
  line.u32(written);
  line.ascii(" failed=");
  line.u32(failed);
  eddy_log(line.ptr, line.len);

  if (failed > 0) response.ascii("]}");
  else response.ascii("{}");
  return (<i64>response.ptr << 32) | <i64>response.len;
}
