#!/usr/bin/env bash
# The whole product end to end: an Orders table, a materialized-view trigger (WebAssembly),
# an S3 connector (MinIO) and an OpenSearch connector, fed by the AWS CLI, then checked.
#
#   examples/orders-pipeline/run.sh
#
# Everything runs on 127.0.0.1 on free ports, with its own data dirs and its own service state
# dir, so it does not disturb a server or services that are already running. Everything it
# starts is stopped on exit. Exit status 0: every check passed; 1: a check failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

say() { printf '\n==> %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
die() { printf 'FAIL %s\n' "$*" >&2; exit 1; }

for tool in cargo aws curl jq python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/eddy-orders-pipeline.XXXXXX")"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The service scripts read these; the same values are needed for start, env and stop.
export EDDY_SERVICES_DIR="$WORK/services"
export EDDY_MINIO_PORT="$(free_port)" EDDY_MINIO_CONSOLE_PORT="$(free_port)"
export EDDY_OPENSEARCH_PORT="$(free_port)" EDDY_OPENSEARCH_TRANSPORT_PORT="$(free_port)"

EDDY_PID=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$EDDY_PID" ]]; then
    kill "$EDDY_PID" 2>/dev/null && wait "$EDDY_PID" 2>/dev/null
  fi
  if (( rc != 0 )); then
    echo "--- last lines of the eddy log ($WORK/eddy.log) ---" >&2
    tail -n 20 "$WORK/eddy.log" >&2 2>/dev/null
  fi
  scripts/services/opensearch.sh stop >/dev/null 2>&1
  scripts/services/minio.sh stop >/dev/null 2>&1
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
say "1. build eddy"
cargo build --quiet --bin eddy
EDDY="$ROOT/target/debug/eddy"
ok "built $EDDY"

# ---------------------------------------------------------------------------------------------
say "2. start MinIO and OpenSearch"
scripts/services/minio.sh start
scripts/services/opensearch.sh start
eval "$(scripts/services/minio.sh env)"
eval "$(scripts/services/opensearch.sh env)"
OPENSEARCH="$EDDY_TEST_OPENSEARCH_URL"
BUCKET=orders-cdc
s3() {
  AWS_ACCESS_KEY_ID="$EDDY_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$EDDY_TEST_S3_SECRET_KEY" \
    AWS_DEFAULT_REGION="$EDDY_TEST_S3_REGION" aws --endpoint-url "$EDDY_TEST_S3_ENDPOINT" "$@"
}
s3 s3 mb "s3://$BUCKET" >/dev/null
ok "MinIO at $EDDY_TEST_S3_ENDPOINT with bucket $BUCKET, OpenSearch at $OPENSEARCH"

# ---------------------------------------------------------------------------------------------
say "3. start eddy"
"$EDDY" serve --data-dir "$WORK/eddy-data" --listen 127.0.0.1:0 >"$WORK/eddy.log" 2>&1 &
EDDY_PID=$!
E=""
for _ in $(seq 1 100); do
  E="$(sed -n 's/.* listening on \(http[^ ]*\).*/\1/p' "$WORK/eddy.log" | head -n 1)"
  [[ -n "$E" ]] && break
  kill -0 "$EDDY_PID" 2>/dev/null || die "eddy exited during startup"
  sleep 0.1
done
[[ -n "$E" ]] || die "eddy did not print its address"
export EDDY_ENDPOINT="$E"
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
ddb() { aws dynamodb --endpoint-url "$E" "$@"; }
head -n 2 "$WORK/eddy.log"
ok "eddy at $E"

# ---------------------------------------------------------------------------------------------
say "4. create the tables"
ddb create-table --table-name Orders \
  --attribute-definitions AttributeName=customer,AttributeType=S AttributeName=order_id,AttributeType=S \
  --key-schema AttributeName=customer,KeyType=HASH AttributeName=order_id,KeyType=RANGE \
  --billing-mode PAY_PER_REQUEST \
  --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES >/dev/null
ddb create-table --table-name CustomerTotals \
  --attribute-definitions AttributeName=customer,AttributeType=S \
  --key-schema AttributeName=customer,KeyType=HASH --billing-mode PAY_PER_REQUEST >/dev/null
ddb list-tables --query 'TableNames' --output text
ok "tables Orders (customer, order_id) and CustomerTotals (customer)"

# ---------------------------------------------------------------------------------------------
say "5. deploy the order-totals trigger"
"$EDDY" trigger deploy order-totals --table Orders \
  --module examples/triggers/order-totals/order_totals.wasm --starting-position trim_horizon
ok "trigger order-totals on Orders"

# ---------------------------------------------------------------------------------------------
say "6. create the S3 and OpenSearch connectors"
cat >"$WORK/s3.json" <<EOF
{
  "Batch": {"MaxRecords": 25, "FlushIntervalMillis": 200},
  "S3": {"Endpoint": "$EDDY_TEST_S3_ENDPOINT", "Bucket": "$BUCKET", "Prefix": "eddy",
         "AccessKeyId": "$EDDY_TEST_S3_ACCESS_KEY", "SecretAccessKey": "$EDDY_TEST_S3_SECRET_KEY",
         "AllowHttp": true}
}
EOF
cat >"$WORK/opensearch.json" <<EOF
{
  "Batch": {"FlushIntervalMillis": 200},
  "OpenSearch": {"Url": "$OPENSEARCH", "Index": "orders",
                 "Mapping": {"properties": {"customer": {"type": "keyword"},
                                            "order_id": {"type": "keyword"},
                                            "item": {"type": "text"},
                                            "amount": {"type": "double"}}}}
}
EOF
"$EDDY" connector create orders-s3 --type s3 --table Orders --config "$WORK/s3.json" --start trim_horizon
"$EDDY" connector create orders-search --type opensearch --table Orders \
  --config "$WORK/opensearch.json" --start trim_horizon
"$EDDY" connector list
ok "connectors orders-s3 and orders-search"

# ---------------------------------------------------------------------------------------------
say "7. write orders, then update and delete some"
CUSTOMERS=(alice bob carol dave erin)
ITEMS=(lamp desk chair kettle mug rug shelf clock)
INSERTS=0 UPDATES=0 DELETES=0
order_item() {  # order number -> a PutRequest
  local n=$1 c=${CUSTOMERS[$(( $1 % 5 ))]} i=${ITEMS[$(( $1 % 8 ))]}
  local amount="$(( (n * 37) % 90 + 5 )).$(( (n * 13) % 100 / 10 ))$(( n % 10 ))"
  printf '{"PutRequest":{"Item":{"customer":{"S":"%s"},"order_id":{"S":"o%03d"},"item":{"S":"%s"},"amount":{"N":"%s"}}}}' \
    "$c" "$n" "$i" "$amount"
}
for batch in 0 1; do  # 40 orders in two BatchWriteItem calls of 20
  reqs=""
  for n in $(seq $(( batch * 20 + 1 )) $(( batch * 20 + 20 ))); do
    reqs+="${reqs:+,}$(order_item "$n")"
    INSERTS=$(( INSERTS + 1 ))
  done
  out="$(ddb batch-write-item --request-items "{\"Orders\":[$reqs]}" --output json)"
  [[ "$(jq '.UnprocessedItems | length' <<<"$out")" == 0 ]] || die "unprocessed items: $out"
done
echo "put 40 orders o001..o040 for ${CUSTOMERS[*]}"
key() { printf '{"customer":{"S":"%s"},"order_id":{"S":"o%03d"}}' "${CUSTOMERS[$(( $1 % 5 ))]}" "$1"; }
for n in 3 7 11 18 24 29 35; do  # raise some amounts by 12.5
  ddb update-item --table-name Orders --key "$(key "$n")" \
    --update-expression 'SET amount = amount + :d, #s = :s' \
    --expression-attribute-names '{"#s":"status"}' \
    --expression-attribute-values '{":d":{"N":"12.5"},":s":{"S":"shipped"}}' \
    --condition-expression 'attribute_exists(order_id)' >/dev/null
  UPDATES=$(( UPDATES + 1 ))
done
ddb update-item --table-name Orders --key "$(key 12)" \
  --update-expression 'SET amount = :a' --expression-attribute-values '{":a":{"N":"0.99"}}' >/dev/null
UPDATES=$(( UPDATES + 1 ))
echo "updated 8 orders (o003 o007 o011 o018 o024 o029 o035 +12.5 and shipped, o012 set to 0.99)"
for n in 5 10 16 22 33 40; do
  ddb delete-item --table-name Orders --key "$(key "$n")" --condition-expression 'attribute_exists(order_id)'
  DELETES=$(( DELETES + 1 ))
done
echo "deleted 6 orders (o005 o010 o016 o022 o033 o040)"
CHANGES=$(( INSERTS + UPDATES + DELETES ))
ok "$CHANGES changes: $INSERTS inserts, $UPDATES updates, $DELETES deletes"

# ---------------------------------------------------------------------------------------------
say "8. wait until the trigger and the connectors have caught up"
caught_up() {  # $1 = JSON status: lag 0 and the checkpoint at the high watermark
  jq -e '(.Trigger // .Connector // .) as $s
         | ($s.LagRecords == 0) and ($s.CheckpointSequenceNumber == $s.HighWatermarkSequenceNumber)
           and ($s.State != "FAILED")' <<<"$1" >/dev/null
}
t0=$SECONDS
while :; do
  tr="$("$EDDY" trigger status order-totals --json)"
  cs3="$("$EDDY" connector status orders-s3 --json)"
  cos="$("$EDDY" connector status orders-search --json)"
  if caught_up "$tr" && caught_up "$cs3" && caught_up "$cos"; then break; fi
  for s in "$cs3" "$cos"; do
    if jq -e '(.Connector // .).State == "FAILED"' <<<"$s" >/dev/null; then
      echo "$s" >&2; die "a connector FAILED"
    fi
  done
  (( SECONDS - t0 < 120 )) || { echo "$tr" "$cs3" "$cos" >&2; die "not caught up after 120 s"; }
  sleep 0.5
done
echo "caught up after $(( SECONDS - t0 )) s"
"$EDDY" trigger list
"$EDDY" connector list
ok "trigger order-totals and connectors orders-s3, orders-search at lag 0"

# ---------------------------------------------------------------------------------------------
say "the view: per-customer totals (aws dynamodb scan --table-name CustomerTotals)"
ddb scan --table-name CustomerTotals --query 'Items[].[customer.S, total_amount.N]' --output text | sort

say "the bucket (aws s3 ls s3://$BUCKET --recursive)"
s3 s3 ls "s3://$BUCKET" --recursive

say "a search (curl '$OPENSEARCH/orders/_search?q=customer:alice')"
curl -fsS -X POST "$OPENSEARCH/orders/_refresh" >/dev/null
curl -fsS "$OPENSEARCH/orders/_search?q=customer:alice&size=100&sort=order_id" \
  | jq -r '"\(.hits.total.value) hits", (.hits.hits[]._source | "  \(.order_id)  \(.customer)  \(.item)  \(.amount)\(if .status then "  " + .status else "" end)")'

# ---------------------------------------------------------------------------------------------
say "checks"
ddb scan --table-name Orders --output json >"$WORK/orders.json"
ddb scan --table-name CustomerTotals --output json >"$WORK/totals.json"
curl -fsS "$OPENSEARCH/orders/_count" >"$WORK/count.json"
curl -fsS "$OPENSEARCH/orders/_search?size=1000" >"$WORK/docs.json"
mkdir -p "$WORK/s3"
s3 s3 cp "s3://$BUCKET" "$WORK/s3" --recursive --quiet
python3 - "$WORK" "$INSERTS" "$UPDATES" "$DELETES" <<'EOF'
import json, os, sys
from decimal import Decimal

work, inserts, updates, deletes = sys.argv[1], *map(int, sys.argv[2:])
failed = False
def check(cond, what, detail=""):
    global failed
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else f": {detail}"))
    failed |= not cond

orders = json.load(open(f"{work}/orders.json"))["Items"]
totals = json.load(open(f"{work}/totals.json"))["Items"]

# 1. the view equals a recomputation from the Orders table
expected = {}
for o in orders:
    c = o["customer"]["S"]
    expected[c] = expected.get(c, Decimal(0)) + Decimal(o.get("amount", {}).get("N", "0"))
got = {t["customer"]["S"]: Decimal(t["total_amount"]["N"]) for t in totals}
diff = {c: (got.get(c, 0), expected.get(c, 0)) for c in set(got) | set(expected)
        if got.get(c, 0) != expected.get(c, 0)}
check(not diff, f"CustomerTotals equals the per-customer sums of {len(orders)} orders "
      f"({len(got)} customers, {sum(got.values())} in all)", f"(got, expected): {diff}")

# 2. the OpenSearch index holds one document per item, equal to it
count = json.load(open(f"{work}/count.json"))["count"]
check(count == len(orders), f"OpenSearch index orders holds {count} documents, Orders {len(orders)} items",
      f"{count} != {len(orders)}")
docs = {(d["_source"]["customer"], d["_source"]["order_id"]): d["_source"]
        for d in json.load(open(f"{work}/docs.json"))["hits"]["hits"]}
mismatch = [k for k in ((o["customer"]["S"], o["order_id"]["S"]) for o in orders)
            if k not in docs] + [
            (o["customer"]["S"], o["order_id"]["S"]) for o in orders
            if (o["customer"]["S"], o["order_id"]["S"]) in docs
            and Decimal(str(docs[(o["customer"]["S"], o["order_id"]["S"])]["amount"])) != Decimal(o["amount"]["N"])]
check(not mismatch, "every item has its document, with its current amount", mismatch[:5])

# 3. the S3 objects hold one record per change, in order, and replay to the table
keys = sorted(os.path.relpath(os.path.join(d, f), f"{work}/s3")
              for d, _, fs in os.walk(f"{work}/s3") for f in fs)
records = []
for k in keys:
    with open(f"{work}/s3/{k}") as f:
        records += [json.loads(line) for line in f if line.strip()]
changes = inserts + updates + deletes
seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
check(len(records) == changes, f"{len(keys)} S3 objects hold {len(records)} records for {changes} changes",
      f"{len(records)} != {changes}")
check(seqs == sorted(set(seqs)), "sequence numbers are unique and increase across the objects in key order",
      seqs[:10])
kinds = {n: sum(r["eventName"] == n for r in records) for n in ("INSERT", "MODIFY", "REMOVE")}
check(kinds == {"INSERT": inserts, "MODIFY": updates, "REMOVE": deletes},
      f"{kinds['INSERT']} INSERT, {kinds['MODIFY']} MODIFY, {kinds['REMOVE']} REMOVE records", kinds)
state = {}
for r in records:
    k = json.dumps(r["dynamodb"]["Keys"], sort_keys=True)
    if r["eventName"] == "REMOVE":
        state.pop(k, None)
    else:
        state[k] = r["dynamodb"]["NewImage"]
table = {json.dumps({"customer": o["customer"], "order_id": o["order_id"]}, sort_keys=True): o for o in orders}
check(state == table, "replaying the S3 records gives the Orders table item for item",
      f"{len(state)} replayed vs {len(table)} items")
sys.exit(1 if failed else 0)
EOF
say "all checks passed"
