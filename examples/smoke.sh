#!/usr/bin/env bash
# Smoke test with the aws CLI: runs the README's `aws dynamodb` sequence against a running Eddy
# server and checks every answer.
#
# Run it (from the repository root):
#
#   cargo build --bin eddy
#   target/debug/eddy serve --listen 127.0.0.1:8000 --data-dir /tmp/eddy-smoke &
#   examples/smoke.sh http://127.0.0.1:8000      # or: EDDY_ENDPOINT=http://... examples/smoke.sh
#
# (`examples/run-smoke.sh target/debug/eddy` does all of this on a free port and a temp dir.)
#
# The endpoint is `$1`, else `$EDDY_ENDPOINT`, else http://127.0.0.1:8000. Dummy credentials
# (local/local, us-east-1) are used unless AWS_ACCESS_KEY_ID or AWS_PROFILE is set. Each run
# works on its own table, `Music-smoke-<time>-<pid>`, and deletes it at the end (also on
# failure). Every step prints one line, for example:
#
#   endpoint http://127.0.0.1:8000, table Music-smoke-1764031234-4242
#   ok  create-table Music-smoke-1764031234-4242 (Artist HASH, Song RANGE, PAY_PER_REQUEST)
#   ok  put-item Nina/Sinnerman Year=1965
#   ok  update-item SET Plays = if_not_exists(Plays, :zero) + :one -> Plays=1 (ALL_NEW)
#   ...
#   ok  delete-table Music-smoke-1764031234-4242
#   ok  describe-table after delete-table -> ResourceNotFoundException; list-tables no longer has it
#   smoke.sh: all 17 checks passed
#
# On the first answer that differs from what DynamoDB gives, it prints the step, what it
# expected and what it got, and exits 1. It needs the aws CLI (v1 or v2), bash and python3.
# The describe-table step checks ItemCount, which Eddy keeps exact after every write (DynamoDB
# refreshes it about every six hours).
set -euo pipefail

ENDPOINT="${1:-${EDDY_ENDPOINT:-http://127.0.0.1:8000}}"
if [[ -z "${AWS_ACCESS_KEY_ID:-}" && -z "${AWS_PROFILE:-}" ]]; then
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
fi
if [[ -z "${AWS_DEFAULT_REGION:-}" && -z "${AWS_REGION:-}" ]]; then
  export AWS_DEFAULT_REGION=us-east-1
fi
export AWS_PAGER=""   # aws CLI v2 would otherwise page long answers through `less`

command -v aws >/dev/null || { echo "smoke.sh: the aws CLI is not installed" >&2; exit 1; }

TABLE="Music-smoke-$(date +%s)-$$"
ERR="$(mktemp)"
TABLE_CREATED=0
CHECKS=0

cleanup() {
  if [[ "$TABLE_CREATED" == 1 ]]; then
    aws dynamodb delete-table --endpoint-url "$ENDPOINT" --table-name "$TABLE" >/dev/null 2>&1 || true
  fi
  rm -f "$ERR"
}
trap cleanup EXIT

fail() {
  echo "FAIL $1" >&2
  shift
  local line
  for line in "$@"; do echo "     $line" >&2; done
  exit 1
}

# call VAR STEP ARGS...: runs `aws dynamodb ARGS...`, stores its stdout in VAR; a failing
# command is a failed step.
call() {
  local _call_var="$1" _call_step="$2" _call_out
  shift 2
  if ! _call_out="$(aws dynamodb "$@" --endpoint-url "$ENDPOINT" 2>"$ERR")"; then
    fail "$_call_step" "expected: success" "got:      $(sed '/^[[:space:]]*$/d' "$ERR")"
  fi
  printf -v "$_call_var" '%s' "$_call_out"
}

# call_fails STEP ERROR_CODE ARGS...: runs `aws dynamodb ARGS...`, which must fail with the
# given DynamoDB error code.
call_fails() {
  local step="$1" code="$2" out
  shift 2
  if out="$(aws dynamodb "$@" --endpoint-url "$ENDPOINT" 2>"$ERR")"; then
    fail "$step" "expected: an error $code" "got:      success: $out"
  fi
  if ! grep -q "($code)" "$ERR"; then
    fail "$step" "expected: an error $code" "got:      $(sed '/^[[:space:]]*$/d' "$ERR")"
  fi
}

# expect STEP EXPECTED ACTUAL [OK-LINE]: compares and prints `ok  OK-LINE` (default STEP).
expect() {
  if [[ "$2" != "$3" ]]; then
    fail "$1" "expected: $2" "got:      $3"
  fi
  CHECKS=$((CHECKS + 1))
  echo "ok  ${4:-$1}"
}

# compact: prints the JSON on stdin on one line (for answers the CLI aggregates across pages,
# which it only does with --output json).
compact() { python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))'; }

K_SINNERMAN='{"Artist":{"S":"Nina"},"Song":{"S":"Sinnerman"}}'

echo "endpoint $ENDPOINT, table $TABLE"

# 1. create-table, as in the README (then wait until ACTIVE, which Eddy is at once).
call out create-table create-table --table-name "$TABLE" \
  --attribute-definitions AttributeName=Artist,AttributeType=S AttributeName=Song,AttributeType=S \
  --key-schema AttributeName=Artist,KeyType=HASH AttributeName=Song,KeyType=RANGE \
  --billing-mode PAY_PER_REQUEST \
  --query '[TableDescription.TableName, join(`,`, TableDescription.KeySchema[].[AttributeName, KeyType][]), TableDescription.BillingModeSummary.BillingMode]' \
  --output text
TABLE_CREATED=1
call ignored "wait table-exists" wait table-exists --table-name "$TABLE"
expect create-table "$TABLE	Artist,HASH,Song,RANGE	PAY_PER_REQUEST" "$out" \
  "create-table $TABLE (Artist HASH, Song RANGE, PAY_PER_REQUEST)"

# 2. put-item: no ReturnValues, so the answer is an empty object (which the CLI prints as
# nothing at all).
call out put-item put-item --table-name "$TABLE" \
  --item '{"Artist":{"S":"Nina"},"Song":{"S":"Sinnerman"},"Year":{"N":"1965"}}' --output json
out="$(printf '%s' "$out" | tr -d ' \n')"
[[ -n "$out" ]] || out='{}'
expect put-item "{}" "$out" "put-item Nina/Sinnerman Year=1965"

call out get-item get-item --table-name "$TABLE" --key "$K_SINNERMAN" \
  --query '[Item.Artist.S, Item.Song.S, Item.Year.N]' --output text
expect get-item "Nina	Sinnerman	1965" "$out" "get-item Nina/Sinnerman -> Year=1965"

# 3. update-item with if_not_exists, twice: Plays goes 1 then 2, ALL_NEW returns the whole item.
for plays in 1 2; do
  call out update-item update-item --table-name "$TABLE" --key "$K_SINNERMAN" \
    --update-expression 'SET Plays = if_not_exists(Plays, :zero) + :one' \
    --expression-attribute-values '{":zero":{"N":"0"},":one":{"N":"1"}}' --return-values ALL_NEW \
    --query '[Attributes.Artist.S, Attributes.Song.S, Attributes.Year.N, Attributes.Plays.N]' \
    --output text
  expect update-item "Nina	Sinnerman	1965	$plays" "$out" \
    "update-item SET Plays = if_not_exists(Plays, :zero) + :one -> Plays=$plays (ALL_NEW)"
done

# 4. query with begins_with on the sort key.
call out query query --table-name "$TABLE" \
  --key-condition-expression 'Artist = :a AND begins_with(Song, :s)' \
  --expression-attribute-values '{":a":{"S":"Nina"},":s":{"S":"Sin"}}' \
  --query '[Count, ScannedCount, join(`,`, Items[].Song.S)]' --output text
expect query "1	1	Sinnerman" "$out" "query Artist = Nina AND begins_with(Song, Sin) -> 1 item"

# 5. scan --select COUNT: a count and no Items.
call out scan scan --table-name "$TABLE" --select COUNT --output json
out="$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Count"), "Items" in d)')"
expect "scan --select COUNT" "1 False" "$out" "scan --select COUNT -> Count=1, no Items"

# 6. a conditional put on an existing item must fail and change nothing.
call_fails "put-item attribute_not_exists" ConditionalCheckFailedException put-item \
  --table-name "$TABLE" --condition-expression 'attribute_not_exists(Artist)' \
  --item '{"Artist":{"S":"Nina"},"Song":{"S":"Sinnerman"},"Year":{"N":"1999"}}'
call out get-item get-item --table-name "$TABLE" --key "$K_SINNERMAN" \
  --query '[Item.Year.N, Item.Plays.N]' --output text
expect "put-item attribute_not_exists" "1965	2" "$out" \
  "put-item --condition-expression attribute_not_exists(Artist) -> ConditionalCheckFailedException, item unchanged"

# 7. batch-write-item: five puts in one request.
BATCH="$(cat <<EOF
{"$TABLE": [
  {"PutRequest": {"Item": {"Artist": {"S": "Nina"}, "Song": {"S": "Feeling Good"}, "Year": {"N": "1965"}}}},
  {"PutRequest": {"Item": {"Artist": {"S": "Nina"}, "Song": {"S": "I Put a Spell on You"}, "Year": {"N": "1965"}}}},
  {"PutRequest": {"Item": {"Artist": {"S": "Miles"}, "Song": {"S": "So What"}, "Year": {"N": "1959"}}}},
  {"PutRequest": {"Item": {"Artist": {"S": "Miles"}, "Song": {"S": "Blue in Green"}, "Year": {"N": "1959"}}}},
  {"PutRequest": {"Item": {"Artist": {"S": "Ella"}, "Song": {"S": "Summertime"}, "Year": {"N": "1958"}}}}
]}
EOF
)"
call out batch-write-item batch-write-item --request-items "$BATCH" \
  --query 'length(UnprocessedItems)' --output text
expect batch-write-item "0" "$out" "batch-write-item 5 puts -> no UnprocessedItems"

# --page-size 1: the CLI follows LastEvaluatedKey / ExclusiveStartKey across three pages.
call out query query --table-name "$TABLE" --key-condition-expression 'Artist = :a' \
  --expression-attribute-values '{":a":{"S":"Nina"}}' --page-size 1 \
  --query '[Count, Items[].Song.S]' --output json
expect query '[3, ["Feeling Good", "I Put a Spell on You", "Sinnerman"]]' "$(compact <<<"$out")" \
  "query Artist = Nina --page-size 1 -> 3 songs in sort-key order"

# 8. batch-get-item: three existing keys and one missing one.
KEYS="$(cat <<EOF
{"$TABLE": {"Keys": [
  {"Artist": {"S": "Nina"}, "Song": {"S": "Sinnerman"}},
  {"Artist": {"S": "Miles"}, "Song": {"S": "So What"}},
  {"Artist": {"S": "Ella"}, "Song": {"S": "Summertime"}},
  {"Artist": {"S": "Nobody"}, "Song": {"S": "Nothing"}}
]}}
EOF
)"
call out batch-get-item batch-get-item --request-items "$KEYS" \
  --query "[join(\`,\`, sort(Responses.\"$TABLE\"[].Song.S)), length(UnprocessedKeys)]" --output text
expect batch-get-item "Sinnerman,So What,Summertime	0" "$out" \
  "batch-get-item 4 keys -> the 3 that exist, no UnprocessedKeys"

# 9. describe-table: ACTIVE, on-demand, and Eddy's exact ItemCount.
call out describe-table describe-table --table-name "$TABLE" \
  --query '[Table.TableStatus, Table.BillingModeSummary.BillingMode, Table.ItemCount, Table.TableArn]' \
  --output text
arn="${out##*	}"
if [[ "$arn" =~ ^arn:aws:dynamodb:[a-z0-9-]+:[0-9]{12}:table/ && "$arn" == *":table/$TABLE" ]]; then
  out="${out%	*}	(a table ARN)"
fi
expect describe-table "ACTIVE	PAY_PER_REQUEST	6	(a table ARN)" "$out" \
  "describe-table -> ACTIVE, PAY_PER_REQUEST, ItemCount=6, TableArn $arn"

# 10. list-tables (the CLI follows LastEvaluatedTableName across pages).
call out list-tables list-tables --query "contains(TableNames, '$TABLE')" --output json
expect list-tables "true" "$(compact <<<"$out")" "list-tables -> includes $TABLE"

# 11. delete-item with a condition: succeeds once (returning the old item), then fails.
call out delete-item delete-item --table-name "$TABLE" --key "$K_SINNERMAN" \
  --condition-expression 'attribute_exists(Artist)' --return-values ALL_OLD \
  --query '[Attributes.Song.S, Attributes.Plays.N]' --output text
expect delete-item "Sinnerman	2" "$out" \
  "delete-item --condition-expression attribute_exists(Artist) -> deleted, ALL_OLD Plays=2"
call_fails "delete-item again" ConditionalCheckFailedException delete-item \
  --table-name "$TABLE" --key "$K_SINNERMAN" --condition-expression 'attribute_exists(Artist)'
call out scan scan --table-name "$TABLE" --select COUNT --page-size 2 --query Count --output json
expect "delete-item again" "5" "$(compact <<<"$out")" \
  "delete-item the same key again -> ConditionalCheckFailedException; scan --page-size 2 counts 5"

# 12. delete-table, after which the table is gone.
call out delete-table delete-table --table-name "$TABLE" --query TableDescription.TableName --output text
expect delete-table "$TABLE" "$out" "delete-table $TABLE"
call ignored "wait table-not-exists" wait table-not-exists --table-name "$TABLE"
TABLE_CREATED=0
call_fails "describe-table after delete-table" ResourceNotFoundException describe-table --table-name "$TABLE"
call out list-tables list-tables --query "contains(TableNames, '$TABLE')" --output json
expect "describe-table after delete-table" "false" "$(compact <<<"$out")" \
  "describe-table after delete-table -> ResourceNotFoundException; list-tables no longer has it"

echo "smoke.sh: all $CHECKS checks passed"
