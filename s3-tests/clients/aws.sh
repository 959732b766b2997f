#!/usr/bin/env bash
# aws-cli scenario: the high-level `aws s3` commands and a round of `aws s3api` calls.
#
# Goal: what an aws-cli user does daily works unchanged: cp up and down (including a 50 MiB
# file, which aws-cli sends as a multipart upload with its default 8 MiB threshold), sync in
# both directions with --delete, ls, rm, rb --force, presign, the low-level s3api calls,
# SSE-C and default encryption, and the bucket configurations (policy, CORS, lifecycle, website).
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

# SSE-C through the high-level commands (a multipart upload: every part and the completion
# carry the key), then SSE-S3 by the bucket's default encryption.
sse_c_round_trip() {
    local key
    key="$(head -c 32 /dev/urandom | base64)"
    local args=(--sse-c AES256 --sse-c-key "fileb://$RV_WORK/sse-c.key")
    printf '%s' "$key" | base64 -d >"$RV_WORK/sse-c.key"
    aws_ s3 cp --no-progress "${args[@]}" "$RV_WORK/fifty.bin" "s3://$BUCKET/secret.bin" &&
        expect_fails aws_ s3 cp --no-progress "s3://$BUCKET/secret.bin" "$RV_WORK/nokey.bin" &&
        aws_ s3 cp --no-progress "${args[@]}" "s3://$BUCKET/secret.bin" "$RV_WORK/secret.out" &&
        cmp "$RV_WORK/fifty.bin" "$RV_WORK/secret.out"
}

default_encryption() {
    aws_ s3api put-bucket-encryption --bucket "$BUCKET" --server-side-encryption-configuration         '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}' &&
        aws_ s3 cp --no-progress "$src/readme.txt" "s3://$BUCKET/encrypted.txt" >/dev/null &&
        aws_ s3api head-object --bucket "$BUCKET" --key encrypted.txt \
            --query ServerSideEncryption --output text | grep -qx AES256 &&
        aws_ s3api delete-bucket-encryption --bucket "$BUCKET"
}

# A policy that denies a prefix binds at once; CORS and lifecycle configurations round-trip.
bucket_configurations() {
    local policy
    policy="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"NoSecrets\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::$BUCKET/private/*\"}]}"
    aws_ s3 cp --no-progress "$src/readme.txt" "s3://$BUCKET/private/x.txt" >/dev/null &&
        aws_ s3api put-bucket-policy --bucket "$BUCKET" --policy "$policy" &&
        expect_fails aws_ s3 cp --no-progress "s3://$BUCKET/private/x.txt" "$RV_WORK/denied" &&
        aws_ s3api delete-bucket-policy --bucket "$BUCKET" &&
        aws_ s3 cp --no-progress "s3://$BUCKET/private/x.txt" "$RV_WORK/allowed" >/dev/null &&
        aws_ s3api put-bucket-cors --bucket "$BUCKET" --cors-configuration \
            '{"CORSRules":[{"AllowedOrigins":["https://app.example"],"AllowedMethods":["GET"]}]}' &&
        aws_ s3api get-bucket-cors --bucket "$BUCKET" --query 'CORSRules[0].AllowedOrigins[0]' \
            --output text | grep -qx https://app.example &&
        aws_ s3api put-bucket-lifecycle-configuration --bucket "$BUCKET" --lifecycle-configuration \
            '{"Rules":[{"ID":"tmp","Status":"Enabled","Filter":{"Prefix":"tmp/"},"Expiration":{"Days":1}}]}' &&
        aws_ s3api get-bucket-lifecycle-configuration --bucket "$BUCKET" --query 'Rules[0].ID' \
            --output text | grep -qx tmp &&
        aws_ s3 website "s3://$BUCKET" --index-document index.html &&
        aws_ s3api get-bucket-website --bucket "$BUCKET" --query IndexDocument.Suffix \
            --output text | grep -qx index.html
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
step "cp --sse-c a 50 MiB file up (multipart) and down; no key, no read" sse_c_round_trip
step "bucket default encryption (SSE-S3) applies to cp" default_encryption
step "policy, CORS, lifecycle and website configurations" bucket_configurations
step "rm one object" aws_ s3 rm "s3://$BUCKET/small.txt"
step "rm --recursive a prefix" aws_ s3 rm --recursive "s3://$BUCKET/tree/"
step "rb --force removes bucket and rest" aws_ s3 rb --force "s3://$BUCKET"
step "ls no longer shows the bucket" expect_output_lacks "$BUCKET" aws_ s3 ls

scenario_finish
