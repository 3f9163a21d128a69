#!/usr/bin/env bash
# Smoke checks of the running test services, with the clients a person would use.
#   scripts/services/check.sh minio        aws CLI: bucket, put/get, 20 MB multipart upload
#   scripts/services/check.sh opensearch   curl: index, _bulk with external versions, search
# Start the service first (scripts/services/<name>.sh start). Exits non-zero on any mismatch.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

check_minio() {
  eval "$("$HERE/minio.sh" env)"
  export AWS_ACCESS_KEY_ID="$EDDY_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$EDDY_TEST_S3_SECRET_KEY"
  export AWS_DEFAULT_REGION="$EDDY_TEST_S3_REGION" AWS_EC2_METADATA_DISABLED=true
  local s3=(aws --endpoint-url "$EDDY_TEST_S3_ENDPOINT")
  local bucket="eddy-check-$$-$RANDOM" tmp; tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  "${s3[@]}" s3api create-bucket --bucket "$bucket" >/dev/null; ok "create-bucket $bucket"
  echo "hello eddy" > "$tmp/small.txt"
  "${s3[@]}" s3api put-object --bucket "$bucket" --key small.txt --body "$tmp/small.txt" >/dev/null
  "${s3[@]}" s3api get-object --bucket "$bucket" --key small.txt "$tmp/small.out" >/dev/null
  cmp -s "$tmp/small.txt" "$tmp/small.out" || fail "get-object returned other bytes"; ok "put-object/get-object round trip"
  head -c $((20 * 1024 * 1024)) /dev/urandom > "$tmp/big.bin"
  # 8 MB parts (the CLI's default threshold and chunk size): 3 parts
  "${s3[@]}" s3 cp --only-show-errors "$tmp/big.bin" "s3://$bucket/big.bin"
  local etag; etag="$("${s3[@]}" s3api head-object --bucket "$bucket" --key big.bin --query ETag --output text)"
  [[ "$etag" == *-3* ]] || fail "expected a 3-part multipart ETag, got $etag"; ok "multipart upload of 20 MB (ETag $etag)"
  "${s3[@]}" s3 cp --only-show-errors "s3://$bucket/big.bin" "$tmp/big.out"
  cmp -s "$tmp/big.bin" "$tmp/big.out" || fail "multipart object differs"; ok "multipart object downloads identical"
  # If-None-Match: * (conditional create) must be enforced
  if "${s3[@]}" s3api put-object --bucket "$bucket" --key small.txt --body "$tmp/small.txt" --if-none-match '*' >/dev/null 2>"$tmp/err"; then
    fail "If-None-Match: * overwrote an existing object"
  fi
  grep -q PreconditionFailed "$tmp/err" || fail "unexpected error: $(cat "$tmp/err")"; ok "If-None-Match: * rejected with PreconditionFailed"
  "${s3[@]}" s3 rb --force "s3://$bucket" >/dev/null; ok "bucket removed"
  AWS_SECRET_ACCESS_KEY=wrong "${s3[@]}" s3api list-buckets >/dev/null 2>"$tmp/err" && fail "wrong secret key accepted"
  grep -q SignatureDoesNotMatch "$tmp/err" || fail "unexpected error: $(cat "$tmp/err")"; ok "wrong secret key rejected (SignatureDoesNotMatch)"
}

check_opensearch() {
  eval "$("$HERE/opensearch.sh" env)"
  local u="$EDDY_TEST_OPENSEARCH_URL" idx="eddy-check-$$-$RANDOM" out
  local json=(-sS -H 'content-type: application/json') nd=(-sS -H 'content-type: application/x-ndjson')
  out="$(curl "${json[@]}" -XPUT "$u/$idx" -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}')"
  [[ "$out" == *'"acknowledged":true'* ]] || fail "create index: $out"; ok "create index $idx"
  out="$(printf '%s\n' \
    "{\"index\":{\"_index\":\"$idx\",\"_id\":\"k1\",\"version\":10,\"version_type\":\"external\"}}" \
    '{"name":"order one","qty":1}' \
    "{\"index\":{\"_index\":\"$idx\",\"_id\":\"k2\",\"version\":11,\"version_type\":\"external\"}}" \
    '{"name":"order two","qty":2}' \
    | curl "${nd[@]}" -XPOST "$u/_bulk?refresh=true" --data-binary @-)"
  [[ "$out" == *'"errors":false'* ]] || fail "bulk: $out"; ok "_bulk version_type=external: 2 created"
  out="$(printf '%s\n' \
    "{\"index\":{\"_index\":\"$idx\",\"_id\":\"k1\",\"version\":9,\"version_type\":\"external\"}}" \
    '{"name":"stale","qty":0}' \
    "{\"index\":{\"_index\":\"$idx\",\"_id\":\"k2\",\"version\":12,\"version_type\":\"external\"}}" \
    '{"name":"order two updated","qty":3}' \
    | curl "${nd[@]}" -XPOST "$u/_bulk?refresh=true" --data-binary @-)"
  [[ "$out" == *'"errors":true'* && "$out" == *'"status":409'* && "$out" == *version_conflict_engine_exception* ]] \
    || fail "lower version not rejected: $out"
  ok "lower version rejected per item: 409 version_conflict_engine_exception; higher version applied"
  out="$(curl "${json[@]}" "$u/$idx/_doc/k1")"
  [[ "$out" == *'"_version":10'* && "$out" == *'order one'* ]] || fail "k1 regressed: $out"; ok "k1 still at version 10"
  out="$(printf '%s\n' "{\"delete\":{\"_index\":\"$idx\",\"_id\":\"k1\",\"version\":13,\"version_type\":\"external\"}}" \
    | curl "${nd[@]}" -XPOST "$u/_bulk?refresh=true" --data-binary @-)"
  [[ "$out" == *'"result":"deleted"'* ]] || fail "versioned delete: $out"
  out="$(printf '%s\n' "{\"index\":{\"_index\":\"$idx\",\"_id\":\"k1\",\"version\":12,\"version_type\":\"external\"}}" \
    '{"name":"resurrected"}' | curl "${nd[@]}" -XPOST "$u/_bulk?refresh=true" --data-binary @-)"
  [[ "$out" == *'"status":409'* ]] || fail "late replay resurrected a deleted doc: $out"
  ok "external-versioned delete; a late lower-version replay is rejected (within index.gc_deletes)"
  out="$(curl "${json[@]}" "$u/$idx/_search" -d '{"query":{"match":{"name":"updated"}}}')"
  [[ "$out" == *'"total":{"value":1'* && "$out" == *'"_id":"k2"'* ]] || fail "search: $out"; ok "search finds k2"
  out="$(curl "${json[@]}" -XPOST "$u/auto-$idx/_doc/x?refresh=true" -d '{"a":1}')"
  [[ "$out" == *'"result":"created"'* ]] || fail "auto-create index: $out"; ok "index auto-created on first write"
  curl -sS -XDELETE "$u/$idx,auto-$idx" >/dev/null; ok "indexes removed"
}

case "${1:-}" in
  minio) check_minio ;;
  opensearch) check_opensearch ;;
  *) echo "usage: $0 minio|opensearch" >&2; exit 2 ;;
esac
echo "all checks passed: $1"
