#!/usr/bin/env python3
"""Smoke test with boto3: the low-level client and the `resource` Table API against a running
Eddy server, checking every answer.

Run it (from the repository root):

    cargo build --bin eddy
    target/debug/eddy serve --listen 127.0.0.1:8000 --data-dir /tmp/eddy-smoke &
    python3 examples/boto3_smoke.py http://127.0.0.1:8000   # or: EDDY_ENDPOINT=http://... python3 ...

(`examples/run-smoke.sh target/debug/eddy` does all of this on a free port and a temp dir.)

The endpoint is argv[1], else $EDDY_ENDPOINT, else http://127.0.0.1:8000. Dummy credentials
(local/local, us-east-1) are used unless AWS_ACCESS_KEY_ID or AWS_PROFILE is set. Each run works
on its own table, `Smoke-boto3-<time>-<pid>`, and deletes it at the end (also on failure). Every
step prints one line, for example:

    endpoint http://127.0.0.1:8000, table Smoke-boto3-1764031234-4242
    ok  create_table Smoke-boto3-1764031234-4242 (pk S HASH, sk N RANGE, PAY_PER_REQUEST)
    ok  Table.put_item
    ok  Table.put_item + get_item: every attribute type round-trips
    ...
    ok  delete_table, then describe_table -> ResourceNotFoundException
    boto3_smoke.py: all 22 checks passed

On the first answer that differs from what DynamoDB gives, it prints the step, what it expected
and what it got, and exits 1. It needs python3 and boto3 (`pip install boto3`).
"""

import os
import sys
import time
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("EDDY_ENDPOINT", "http://127.0.0.1:8000")
if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
    os.environ["AWS_ACCESS_KEY_ID"] = "local"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "local"
if not os.environ.get("AWS_DEFAULT_REGION") and not os.environ.get("AWS_REGION"):
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

TABLE = f"Smoke-boto3-{int(time.time())}-{os.getpid()}"
CHECKS = 0


class Mismatch(Exception):
    pass


def check(step, expected, got, line=None):
    """Compares, prints `ok  LINE` (default STEP), or raises Mismatch."""
    global CHECKS
    if expected != got:
        raise Mismatch(f"FAIL {step}\n     expected: {expected!r}\n     got:      {got!r}")
    CHECKS += 1
    print(f"ok  {line or step}", flush=True)


def error_code(step, expected_code, call):
    """Runs call(), which must fail with the DynamoDB error expected_code."""
    try:
        answer = call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise Mismatch(f"FAIL {step}\n     expected: an error {expected_code}\n     got:      success: {answer!r}")


def scan_all(table, **kwargs):
    """Scan, following LastEvaluatedKey."""
    items = []
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run(client, dynamodb):
    # create_table, then wait until ACTIVE (which Eddy is at once).
    answer = client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    desc = answer["TableDescription"]
    check(
        "create_table",
        (TABLE, [("pk", "HASH"), ("sk", "RANGE")], "PAY_PER_REQUEST"),
        (
            desc["TableName"],
            [(k["AttributeName"], k["KeyType"]) for k in desc["KeySchema"]],
            desc.get("BillingModeSummary", {}).get("BillingMode"),
        ),
        f"create_table {TABLE} (pk S HASH, sk N RANGE, PAY_PER_REQUEST)",
    )
    table = dynamodb.Table(TABLE)

    # put_item / get_item with every attribute type.
    song = {
        "pk": "song",
        "sk": 1,
        "title": "Sinnerman",
        "year": Decimal(1965),
        "rating": Decimal("4.5"),
        "tags": {"jazz", "soul"},
        "takes": {Decimal(1), Decimal("2.5")},
        "blobs": {Binary(b"\x00\x01"), Binary(b"\xff")},
        "cover": Binary(b"\x89PNG\r\n\x1a\n"),
        "live": True,
        "producer": None,
        "note": "",
        "credits": {"piano": "Nina", "takes": [Decimal(1), "two", {"final": False}], "empty": {}},
        "empty_list": [],
    }
    answer = table.put_item(Item=song)
    check("Table.put_item", [], [k for k in answer if k != "ResponseMetadata"])
    got = table.get_item(Key={"pk": "song", "sk": 1}, ConsistentRead=True).get("Item")
    check("Table.get_item", song, got, "Table.put_item + get_item: every attribute type round-trips")

    # update_item: SET with a reserved word (#y), if_not_exists, ADD to a set, REMOVE.
    answer = table.update_item(
        Key={"pk": "song", "sk": 1},
        UpdateExpression="SET #y = #y + :one, plays = if_not_exists(plays, :zero) + :one "
        "ADD tags :more REMOVE producer",
        ExpressionAttributeNames={"#y": "year"},
        ExpressionAttributeValues={":one": 1, ":zero": 0, ":more": {"blues"}},
        ReturnValues="UPDATED_NEW",
    )
    check(
        "Table.update_item",
        {"year": Decimal(1966), "plays": Decimal(1), "tags": {"jazz", "soul", "blues"}},
        answer.get("Attributes"),
        "Table.update_item SET #y = #y + :one, if_not_exists, ADD, REMOVE -> UPDATED_NEW",
    )
    got = table.get_item(Key={"pk": "song", "sk": 1}, ProjectionExpression="producer, plays, #y",
                         ExpressionAttributeNames={"#y": "year"})["Item"]
    check("Table.get_item after update", {"plays": Decimal(1), "year": Decimal(1966)}, got,
          "Table.get_item ProjectionExpression -> producer removed, plays=1, year=1966")

    # A conditional put on an existing item fails and changes nothing.
    code = error_code(
        "Table.put_item attribute_not_exists",
        "ConditionalCheckFailedException",
        lambda: table.put_item(Item={"pk": "song", "sk": 1}, ConditionExpression=Attr("pk").not_exists()),
    )
    still = table.get_item(Key={"pk": "song", "sk": 1})["Item"].get("title")
    check("Table.put_item attribute_not_exists", ("ConditionalCheckFailedException", "Sinnerman"), (code, still),
          "Table.put_item ConditionExpression=Attr('pk').not_exists() -> ConditionalCheckFailedException")

    # batch_writer with 100 items (it sends BatchWriteItem requests of 25).
    with table.batch_writer() as batch:
        for i in range(100):
            batch.put_item(Item={"pk": "bulk", "sk": i, "color": "red" if i % 2 == 0 else "blue", "n": i})
    count = table.query(KeyConditionExpression=Key("pk").eq("bulk"), Select="COUNT")["Count"]
    check("Table.batch_writer", 100, count, "Table.batch_writer 100 puts -> query counts 100")

    # query with Key conditions, newest first.
    answer = table.query(
        KeyConditionExpression=Key("pk").eq("bulk") & Key("sk").between(10, 19),
        ScanIndexForward=False,
    )
    check("Table.query", list(range(19, 9, -1)), [int(i["sk"]) for i in answer["Items"]],
          "Table.query Key('pk').eq('bulk') & Key('sk').between(10, 19), ScanIndexForward=False -> 19..10")

    answer = table.query(KeyConditionExpression=Key("pk").eq("bulk") & Key("sk").gt(95), Limit=2)
    check("Table.query Limit", ([96, 97], {"pk": "bulk", "sk": Decimal(97)}),
          ([int(i["sk"]) for i in answer["Items"]], answer.get("LastEvaluatedKey")),
          "Table.query Key('sk').gt(95), Limit=2 -> 96, 97 and LastEvaluatedKey sk=97")

    # scan with an Attr filter.
    items = scan_all(table, FilterExpression=Attr("color").eq("red") & Attr("n").gte(90))
    check("Table.scan FilterExpression", [90, 92, 94, 96, 98], sorted(int(i["n"]) for i in items),
          "Table.scan Attr('color').eq('red') & Attr('n').gte(90) -> 5 items")

    # Paginated scan with the client's paginator, 7 items a page.
    pages = list(
        client.get_paginator("scan").paginate(TableName=TABLE, PaginationConfig={"PageSize": 7})
    )
    keys = [(i["pk"]["S"], i["sk"]["N"]) for p in pages for i in p["Items"]]
    check(
        "scan paginator",
        (101, 101, True, True),
        (len(keys), len(set(keys)), len(pages) >= 15, all(p["Count"] <= 7 for p in pages)),
        f"get_paginator('scan') PageSize=7 -> 101 distinct items in {len(pages)} pages",
    )
    total = sum(p["Count"] for p in client.get_paginator("scan").paginate(
        TableName=TABLE, Select="COUNT", PaginationConfig={"PageSize": 40}))
    check("scan paginator Select=COUNT", 101, total, "get_paginator('scan') Select=COUNT PageSize=40 -> 101")

    # Numbers: 38 significant digits round-trip exactly through the Table API ...
    numbers = [
        Decimal("12345678901234567890123456789012345678"),
        Decimal("-1234567890.1234567890123456789012345678"),
        Decimal("0.12345678901234567890123456789012345678"),
        Decimal("-0.00000000000000000000000000000000000001"),
        Decimal("1E-130"),
        Decimal("0"),
    ]
    item = {"pk": "numbers", "sk": 0, "list": numbers, "set": set(numbers)}
    item.update({f"n{i}": n for i, n in enumerate(numbers)})
    table.put_item(Item=item)
    got = table.get_item(Key={"pk": "numbers", "sk": 0})["Item"]
    check("Decimal round-trip", item, got, "Decimal numbers of 38 digits and 1E-130 round-trip (Table API)")

    # ... and so do the ends of the range through the client. DynamoDB answers 9.9...E+125 written
    # out in full (126 digits), which boto3's Table API cannot read back (boto/boto3#2500), so
    # these are compared as plain Decimals.
    extremes = [
        "9.9999999999999999999999999999999999999E+125",
        "-9.9999999999999999999999999999999999999E+125",
        "1E-130",
        "-1E-130",
        "1E+100",
    ]
    client.put_item(TableName=TABLE, Item={
        "pk": {"S": "numbers"}, "sk": {"N": "1"}, **{f"x{i}": {"N": n} for i, n in enumerate(extremes)}})
    got = client.get_item(TableName=TABLE, Key={"pk": {"S": "numbers"}, "sk": {"N": "1"}})["Item"]
    check("extreme numbers", [Decimal(n) for n in extremes],
          [Decimal(got.get(f"x{i}", {}).get("N", "NaN")) for i in range(len(extremes))],
          "numbers 9.9...9E+125, -9.9...9E+125, 1E-130, -1E-130, 1E+100 round-trip (client)")

    # ... and are sorted numerically as sort keys.
    order = numbers + [Decimal(n) for n in extremes if n != "1E-130"]
    for n in order:
        client.put_item(TableName=TABLE, Item={"pk": {"S": "order"}, "sk": {"N": str(n)}})
    got = [Decimal(i["sk"]["N"]) for i in client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "order"}})["Items"]]
    check("number sort order", sorted(order), got,
          f"{len(order)} numbers from -9.9...9E+125 to 9.9...9E+125 as sort keys come back in numeric order")

    # ... and add exactly.
    answer = table.update_item(
        Key={"pk": "numbers", "sk": 0},
        UpdateExpression="SET n0 = n0 + :one ADD n2 :tiny",
        ExpressionAttributeValues={":one": 1, ":tiny": Decimal("1E-38")},
        ReturnValues="UPDATED_NEW",
    )
    check(
        "Decimal arithmetic",
        {"n0": Decimal("12345678901234567890123456789012345679"),
         "n2": Decimal("0.12345678901234567890123456789012345679")},
        answer.get("Attributes"),
        "SET n0 = n0 + :one, ADD n2 1E-38 on 38-digit numbers -> exact",
    )

    # 39 significant digits are refused (sent through the client, past boto3's own check).
    code = error_code(
        "put_item 39 digits",
        "ValidationException",
        lambda: client.put_item(TableName=TABLE, Item={
            "pk": {"S": "numbers"}, "sk": {"N": "1"}, "n": {"N": "123456789012345678901234567890123456789"}}),
    )
    check("put_item 39 digits", "ValidationException", code,
          "put_item N=123456789012345678901234567890123456789 (39 digits) -> ValidationException")

    # batch_get_item through the resource: two keys that exist, one that does not.
    answer = dynamodb.batch_get_item(RequestItems={TABLE: {
        "Keys": [{"pk": "song", "sk": 1}, {"pk": "bulk", "sk": 42}, {"pk": "nobody", "sk": 0}],
        "ProjectionExpression": "pk, sk",
    }})
    got = sorted((i["pk"], int(i["sk"])) for i in answer["Responses"][TABLE])
    check("batch_get_item", ([("bulk", 42), ("song", 1)], {}), (got, answer.get("UnprocessedKeys")),
          "resource.batch_get_item 3 keys -> the 2 that exist, no UnprocessedKeys")

    # delete_item with a condition, returning the old item.
    answer = table.delete_item(Key={"pk": "song", "sk": 1}, ConditionExpression=Attr("plays").eq(1),
                               ReturnValues="ALL_OLD")
    check("Table.delete_item", "Sinnerman", answer.get("Attributes", {}).get("title"),
          "Table.delete_item ConditionExpression=Attr('plays').eq(1), ALL_OLD -> the old item")
    code = error_code(
        "Table.delete_item again", "ConditionalCheckFailedException",
        lambda: table.delete_item(Key={"pk": "song", "sk": 1}, ConditionExpression=Attr("pk").exists()),
    )
    check("Table.delete_item again", "ConditionalCheckFailedException", code,
          "Table.delete_item again with Attr('pk').exists() -> ConditionalCheckFailedException")

    # describe_table: Eddy keeps ItemCount exact (100 bulk + 2 numbers + the order items).
    desc = client.describe_table(TableName=TABLE)["Table"]
    expected_count = 100 + 2 + len(order)
    check("describe_table", ("ACTIVE", expected_count), (desc["TableStatus"], desc["ItemCount"]),
          f"describe_table -> ACTIVE, ItemCount={expected_count}")

    client.delete_table(TableName=TABLE)
    client.get_waiter("table_not_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    code = error_code("describe_table after delete_table", "ResourceNotFoundException",
                      lambda: client.describe_table(TableName=TABLE))
    check("delete_table", "ResourceNotFoundException", code,
          "delete_table, then describe_table -> ResourceNotFoundException")


def main():
    print(f"endpoint {ENDPOINT}, table {TABLE}", flush=True)
    session = boto3.session.Session()
    client = session.client("dynamodb", endpoint_url=ENDPOINT)
    dynamodb = session.resource("dynamodb", endpoint_url=ENDPOINT)
    try:
        run(client, dynamodb)
    except Mismatch as e:
        print(e, file=sys.stderr)
        return 1
    except Exception as e:  # an unexpected error from the server or the client is a failure too
        print(f"FAIL unexpected {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        try:
            client.delete_table(TableName=TABLE)
        except Exception:  # already deleted, or the server is gone
            pass
    print(f"boto3_smoke.py: all {CHECKS} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
