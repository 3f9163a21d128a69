#!/usr/bin/env python3
"""End-to-end run of the three example triggers against a running `eddy serve`.

    python3 examples/triggers/check/e2e.py http://127.0.0.1:8000

It does what the READMEs show, then more: creates the tables, deploys the three modules
through `PUT /v1/triggers/{name}` (TRIM_HORIZON), writes the README's items and a few hundred
random order changes with boto3, waits until the triggers have caught up and checks

  * order-totals: CustomerTotals equals the per-customer sum of `amount` recomputed from a
    scan of Orders, exactly (decimal arithmetic), and stays so (no write-back applied twice);
  * audit-log: AuditLog holds one item per change of Orders, in sequence order, with the
    event name and keys of that change;
  * count-filter: if the trigger's logs are readable over HTTP, the "N of M" lines add up to
    the INSERTs with status = "open" and the records written to Tickets.

When the server has no trigger API yet (GET /v1/triggers answers 404), the same run goes on
with the triggers run outside the server: the script reads each table's change records through
the DynamoDB Streams API (TRIM_HORIZON, every shard), adds `eventSourceARN` as Lambda does,
hands them in batches of 100 to the modules in check/run_batch.mjs (Node.js, the stand-in host)
and applies the returned write-backs with PutItem/UpdateItem. That checks the modules on the
server's real records and write path, but not Eddy's trigger runtime; the last line says which.

Exit status: 0 passed, 1 failed.
"""

import base64
import decimal
import json
import random
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000").rstrip("/")
RUN = f"{int(time.time())}"
ORDERS, TOTALS, AUDIT, TICKETS = "Orders", "CustomerTotals", "AuditLog", "Tickets"
TRIGGERS = [("order-totals", ORDERS, "order-totals/order_totals.wasm"),
            ("audit-log", ORDERS, "audit-log/audit_log.wasm"),
            ("count-filter", TICKETS, "count-filter/count_filter.wasm")]
decimal.getcontext().prec = 200  # exact sums of 38-digit numbers


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(ENDPOINT + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def ok(msg):
    print(f"ok  {msg}", flush=True)


def fail(msg):
    print(f"FAIL {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def main():
    status, _ = api("GET", "/v1/triggers")
    in_eddy = status not in (404, 405)
    if not in_eddy:
        print(f"note: {ENDPOINT} has no trigger API (GET /v1/triggers -> {status}): the modules run in "
              "check/run_batch.mjs on the server's stream records instead")

    client_args = dict(endpoint_url=ENDPOINT, region_name="us-east-1",
                   aws_access_key_id="local", aws_secret_access_key="local")
    ddb = boto3.client("dynamodb", **client_args)

    def create(name, key, stream=False):
        extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": key, "KeyType": "HASH"}], **extra)
        ok(f"create-table {name} ({key} HASH)")

    create(ORDERS, "order", stream=True)
    create(TOTALS, "customer")
    create(AUDIT, "pk")
    create(TICKETS, "id", stream=True)

    for name, table, wasm in TRIGGERS if in_eddy else []:
        module = base64.b64encode((ROOT / wasm).read_bytes()).decode()
        status, body = api("PUT", f"/v1/triggers/{name}",
                           {"TableName": table, "Module": module, "StartingPosition": "TRIM_HORIZON"})
        if status // 100 != 2:
            fail(f"PUT /v1/triggers/{name} -> {status} {body}")
        ok(f"PUT /v1/triggers/{name} on {table} -> {status}")

    # ---- Tickets: the count-filter README's items, then more --------------------------------
    tickets_records, open_inserts = 0, 0
    for i, status_ in enumerate(["open", "closed", "open", "open", "pending"] * 4):
        ddb.put_item(TableName=TICKETS, Item={"id": {"S": f"t{i}"}, "status": {"S": status_}})
        tickets_records += 1
        open_inserts += status_ == "open"
    ddb.update_item(TableName=TICKETS, Key={"id": {"S": "t1"}}, UpdateExpression="SET #s = :o",
                    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":o": {"S": "open"}})
    ddb.delete_item(TableName=TICKETS, Key={"id": {"S": "t0"}})
    tickets_records += 2
    ok(f"wrote {tickets_records} changes to {TICKETS} ({open_inserts} INSERTs with status = open)")

    # ---- Orders: the order-totals README's items, then random changes -------------------------
    orders = {}    # order -> (customer, amount as str)
    events = []    # (event name, order) in commit order

    def put(order, customer, amount):
        if orders.get(order) == (customer, amount):
            return
        ddb.put_item(TableName=ORDERS, Item={"order": {"S": order}, "customer": {"S": customer},
                                             "amount": {"N": amount}})
        events.append(("MODIFY" if order in orders else "INSERT", order))
        orders[order] = (customer, amount)

    def delete(order):
        ddb.delete_item(TableName=ORDERS, Key={"order": {"S": order}})
        events.append(("REMOVE", order))
        del orders[order]

    put("o1", "alice", "25")
    put("o2", "alice", "10.50")
    put("o3", "bob", "7")
    ddb.update_item(TableName=ORDERS, Key={"order": {"S": "o1"}}, UpdateExpression="SET amount = :a",
                    ExpressionAttributeValues={":a": {"N": "30"}})
    events.append(("MODIFY", "o1"))
    orders["o1"] = ("alice", "30")
    put("o2", "bob", "10.50")
    delete("o3")

    rand = random.Random(7)
    customers = ["alice", "bob", "carol", "dave", 'Zoë "Z"']
    amounts = ["1", "2.5", "10", "0.01", "99.99", "1000000", "0", "12345678901234567890.123456789"]
    for i in range(300):
        roll = rand.random()
        if roll < 0.45 or not orders:
            put(f"r{i}", rand.choice(customers), rand.choice(amounts))
        elif roll < 0.85:
            o = rand.choice(sorted(orders))
            put(o, rand.choice(customers), rand.choice(amounts))
        else:
            delete(rand.choice(sorted(orders)))
    ok(f"wrote {len(events)} changes to {ORDERS}")

    local_logs = {} if in_eddy else run_locally(ddb, client_args)

    # ---- wait for the triggers, then check ----------------------------------------------------
    def scan(table):
        items, kwargs = [], {}
        while True:
            page = ddb.scan(TableName=table, ConsistentRead=True, **kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def expected_totals():
        sums = {}
        for item in scan(ORDERS):
            c = item["customer"]["S"]
            sums[c] = sums.get(c, Decimal(0)) + Decimal(item["amount"]["N"])
        return {c: v for c, v in sums.items() if v != 0}

    def actual_totals():
        got = {i["customer"]["S"]: Decimal(i["total_amount"]["N"]) for i in scan(TOTALS)}
        return {c: v for c, v in got.items() if v != 0}

    deadline = time.time() + 60
    while True:
        want, got = expected_totals(), actual_totals()
        audit = scan(AUDIT)
        if (want == got and len(audit) >= len(events)) or time.time() > deadline:
            break
        time.sleep(0.5)
    if want != got:
        fail(f"{TOTALS} differs from the recomputation:\n  want {want}\n  got  {got}\n"
             f"  order-totals: {api('GET', '/v1/triggers/order-totals')}")
    ok(f"{TOTALS} equals the per-customer sums recomputed from {ORDERS} ({len(want)} customers)")

    # Exactly once: nothing more may arrive later.
    time.sleep(2)
    if actual_totals() != want:
        fail(f"{TOTALS} changed after catching up: a write-back was applied twice")
    ok(f"{TOTALS} unchanged 2 s later")

    audit = sorted(scan(AUDIT), key=lambda i: i["pk"]["S"].split("#", 1)[1])
    if len(audit) != len(events):
        fail(f"{AUDIT} has {len(audit)} items for {len(events)} changes")
    for item, (event, order) in zip(audit, events):
        if item["event"]["S"] != event or item["keys"]["M"] != {"order": {"S": order}} or "at" not in item:
            fail(f"audit item {item} does not match the change {event} {order}")
    tables = {i["pk"]["S"].split("#", 1)[0] for i in audit}
    if tables != {ORDERS}:
        if tables != {"unknown"}:
            fail(f"audit pk prefixes {sorted(tables)}, want {ORDERS}")
        print("note: the batches carry no eventSourceARN (docs/triggers.md lists one), "
              "so audit-log keys its items unknown#<seq>")
    ok(f"{AUDIT} holds one item per change in sequence order ({len(audit)} items, pk prefix {sorted(tables)})")

    # count-filter: its logs, if this server serves them.
    seen_open = seen_total = 0
    source = None
    if not in_eddy:
        lines = re.findall(r'count-filter: (\d+) of (\d+) records', "\n".join(local_logs["count-filter"]))
        source = "check/run_batch.mjs"
        seen_open = sum(int(a) for a, _ in lines)
        seen_total = sum(int(b) for _, b in lines)
    for path in [] if source else ["/v1/triggers/count-filter/logs", "/v1/triggers/count-filter"]:
        status, body = api("GET", path)
        lines = re.findall(r'count-filter: (\d+) of (\d+) records', body)
        if status == 200 and lines:
            source = path
            seen_open = sum(int(a) for a, _ in lines)
            seen_total = sum(int(b) for _, b in lines)
            break
    if source is None:
        print("skip: count-filter's log lines are not readable at /v1/triggers/count-filter/logs")
    else:
        deadline = time.time() + 30
        while in_eddy and seen_total < tickets_records and time.time() < deadline:
            time.sleep(0.5)
            _, body = api("GET", source)
            lines = re.findall(r'count-filter: (\d+) of (\d+) records', body)
            seen_open, seen_total = sum(int(a) for a, _ in lines), sum(int(b) for _, b in lines)
        if (seen_open, seen_total) != (open_inserts, tickets_records):
            fail(f"count-filter logged {seen_open} of {seen_total}, want {open_inserts} of {tickets_records}")
        ok(f"count-filter logged {seen_open} of {seen_total} records are INSERTs with status = \"open\"")

    if in_eddy:
        for name, _, _ in TRIGGERS:
            status, body = api("GET", f"/v1/triggers/{name}")
            print(f"    GET /v1/triggers/{name} -> {status} {body[:300]}")
        print("e2e.py: passed (the triggers ran in Eddy)")
    else:
        print("e2e.py: passed (the modules ran in check/run_batch.mjs on Eddy's stream records; "
              "this eddy has no trigger API)")


def run_locally(ddb, client_args):
    """Delivers each table's change records to its modules and applies their write-backs."""
    streams = boto3.client("dynamodbstreams", **client_args)
    raw = {}
    # Keep GetRecords' body as the server sent it, so the modules see Eddy's own JSON.
    streams.meta.events.register("after-call.dynamodbstreams.GetRecords",
                                 lambda http_response, **_: raw.__setitem__("body", http_response.content))
    logs = {}
    for name, table, wasm in TRIGGERS:
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        records = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while it:
                page = streams.get_records(ShardIterator=it)
                got = json.loads(raw["body"])["Records"]
                for r in got:
                    r["eventSourceARN"] = arn  # Lambda adds it to each record of the event
                records += got
                it = page.get("NextShardIterator") if got else None
        logs[name] = []
        writes = 0
        for i in range(0, len(records), 100):
            batch = json.dumps({"Records": records[i:i + 100]})
            run = subprocess.run(["node", str(ROOT / "check/run_batch.mjs"), str(ROOT / wasm)],
                                 input=batch, capture_output=True, text=True, check=True)
            out = json.loads(run.stdout)
            if not out["ok"] or out["failures"]:
                fail(f"{name} failed a batch of {table}: {out}")
            logs[name] += out["logs"]
            for w in out["writes"]:
                {"put_item": ddb.put_item, "update_item": ddb.update_item,
                 "delete_item": ddb.delete_item}[w["fn"]](**w["request"])
                writes += 1
        ok(f"{name}: {len(records)} records of {table} through {wasm}, {writes} write-backs applied")
    return logs


if __name__ == "__main__":
    main()
