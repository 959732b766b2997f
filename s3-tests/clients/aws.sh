#!/usr/bin/env bash
# aws-cli scenario: the high-level `aws s3` commands and a round of `aws s3api` calls.
#
# Goal: what an aws-cli user does daily works unchanged: cp up and down (including a 50 MiB
# file, which aws-cli sends as a multipart upload with its default 8 MiB threshold), sync in
# both directions with --delete, ls, rm, rb --force, presign, and the low-level s3api calls.
# Method: aws-cli from requirements.txt with default transfer settings (path-style addressing
# is the only setting), against a fresh node; every step asserts on output or bytes.

SCENARIO=aws
source "$(dirname "${BASH_SOURCE[0]}")/scenario.sh"
scenario_start

aws_() { aws --endpoint-url "$RV_ENDPOINT" "$@"; }
src="$RV_WORK/src"
make_tree "$src"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$RV_WORK/fifty.bin"

round_trip() {
    local local_file="$1" key="$2"
    aws_ s3 cp --no-progress "$local_file" "s3://$BUCKET/$key" &&
        aws_ s3 cp --no-progress "s3://$BUCKET/$key" "$RV_WORK/back.bin" &&
        cmp "$local_file" "$RV_WORK/back.bin"
}

etag_is_multipart() {
    local etag
    etag="$(aws_ s3api head-object --bucket "$BUCKET" --key "$1" --query ETag --output text)"
    [[ "$etag" == *-* ]] || { echo "ETag $etag is not a multipart ETag"; return 1; }
}

sync_down_matches() {
    rm -rf "$RV_WORK/down"
    aws_ s3 sync --no-progress "s3://$BUCKET/tree" "$RV_WORK/down" && diff -r "$src" "$RV_WORK/down"
}

sync_delete_removes() {
    rm "$src/docs/doc-1.txt"
    aws_ s3 sync --no-progress --delete "$src" "s3://$BUCKET/tree" >/dev/null
    local listing
    listing="$(aws_ s3 ls --recursive "s3://$BUCKET/tree/")"
    ! grep -q 'docs/doc-1.txt$' <<<"$listing"
}

s3api_round() {
    printf 'via s3api' >"$RV_WORK/api.txt"
    aws_ s3api put-object --bucket "$BUCKET" --key api/obj.txt --body "$RV_WORK/api.txt" \
        --content-type text/plain --metadata origin=s3api >/dev/null
    aws_ s3api head-object --bucket "$BUCKET" --key api/obj.txt --query Metadata.origin \
        --output text | grep -qx s3api
    aws_ s3api get-object --bucket "$BUCKET" --key api/obj.txt "$RV_WORK/api.out" >/dev/null
    cmp "$RV_WORK/api.txt" "$RV_WORK/api.out"
    aws_ s3api get-object --bucket "$BUCKET" --key api/obj.txt --range bytes=4-6 \
        "$RV_WORK/api.range" >/dev/null
    [[ "$(cat "$RV_WORK/api.range")" == "s3a" ]]
    aws_ s3api list-objects-v2 --bucket "$BUCKET" --prefix api/ --query 'Contents[].Key' \
        --output text | grep -qx api/obj.txt
    aws_ s3api list-objects --bucket "$BUCKET" --prefix tree/ --delimiter / \
        --query 'CommonPrefixes[].Prefix' --output text | grep -q 'tree/docs/'
    aws_ s3api get-bucket-location --bucket "$BUCKET" >/dev/null
    aws_ s3api delete-object --bucket "$BUCKET" --key api/obj.txt
    expect_fails aws_ s3api head-object --bucket "$BUCKET" --key api/obj.txt 2>/dev/null
}

presigned_get() {
    local url
    url="$(aws_ s3 presign "s3://$BUCKET/small.txt" --expires-in 300)"
    curl -sSf "$url" -o "$RV_WORK/presigned.out"
    cmp "$src/readme.txt" "$RV_WORK/presigned.out"
}

step "mb s3://$BUCKET" aws_ s3 mb "s3://$BUCKET"
step "ls shows the bucket" expect_output_has "$BUCKET" aws_ s3 ls
step "cp small file up and down" round_trip "$src/readme.txt" small.txt
step "cp empty file up and down" round_trip "$src/empty.txt" empty.txt
step "cp 50 MiB file (multipart by default) up and down" round_trip "$RV_WORK/fifty.bin" fifty.bin
step "the 50 MiB object has a multipart ETag" etag_is_multipart fifty.bin
step "sync a tree up" aws_ s3 sync --no-progress "$src" "s3://$BUCKET/tree"
step "ls --recursive lists the odd file name" \
    expect_output_has "tree/docs/nested deeper/ünïcode file.txt" aws_ s3 ls --recursive "s3://$BUCKET/"
step "sync the tree down, identical" sync_down_matches
step "second sync up uploads nothing" \
    expect_output_lacks "upload:" aws_ s3 sync --no-progress "$src" "s3://$BUCKET/tree"
step "sync --delete removes a deleted file" sync_delete_removes
step "s3api put/head/get/range/list/delete" s3api_round
step "presigned GET with curl" presigned_get
step "rm one object" aws_ s3 rm "s3://$BUCKET/small.txt"
step "rm --recursive a prefix" aws_ s3 rm --recursive "s3://$BUCKET/tree/"
step "rb --force removes bucket and rest" aws_ s3 rb --force "s3://$BUCKET"
step "ls no longer shows the bucket" expect_output_lacks "$BUCKET" aws_ s3 ls

scenario_finish
