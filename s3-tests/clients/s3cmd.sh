#!/usr/bin/env bash
# s3cmd scenario: mb, put, get, ls, la, info, sync (both ways), del, rb.
#
# Goal: s3cmd, a long-lived SigV4 client with its own XML and signing code, works unchanged.
# Method: s3cmd from PyPI in the project venv (requirements.txt), a private config file with
# only keys and region, and --no-ssl --host/--host-bucket on every call (a host-bucket without
# %(bucket)s makes s3cmd use path-style URLs). Files stay under s3cmd's 15 MiB multipart chunk.

SCENARIO=s3cmd
source "$(dirname "${BASH_SOURCE[0]}")/scenario.sh"
scenario_start

host="${RV_ENDPOINT#http://}"
cat >"$RV_WORK/s3cmd.cfg" <<CFG
[default]
access_key = $RV_ACCESS_KEY_ID
secret_key = $RV_SECRET_ACCESS_KEY
bucket_location = $RV_REGION
signature_v2 = False
CFG
s3c() {
    s3cmd -c "$RV_WORK/s3cmd.cfg" --no-ssl --host="$host" --host-bucket="$host" \
        --region="$RV_REGION" --no-progress "$@"
}

src="$RV_WORK/src"
make_tree "$src"

get_matches() {
    rm -f "$RV_WORK/got.bin"
    s3c get "s3://$BUCKET/big.bin" "$RV_WORK/got.bin" && cmp "$src/data/big.bin" "$RV_WORK/got.bin"
}

sync_down_matches() {
    rm -rf "$RV_WORK/down"
    mkdir -p "$RV_WORK/down"
    s3c sync "s3://$BUCKET/tree/" "$RV_WORK/down/" && diff -r "$src" "$RV_WORK/down"
}

sync_delete_removed() {
    rm "$src/docs/doc-5.txt"
    s3c sync --delete-removed "$src/" "s3://$BUCKET/tree/" >/dev/null
    ! s3c ls -r "s3://$BUCKET/tree/docs/" | grep -q 'doc-5.txt$'
}

step "mb" s3c mb "s3://$BUCKET"
step "ls shows the bucket" expect_output_has "s3://$BUCKET" s3c ls
step "put a file" s3c put "$src/data/big.bin" "s3://$BUCKET/big.bin"
step "get it back, identical" get_matches
step "info shows size and MD5" expect_output_has "$(md5sum "$src/data/big.bin" | cut -d' ' -f1)" \
    s3c info "s3://$BUCKET/big.bin"
step "put with a metadata header" s3c put --add-header=x-amz-meta-origin:s3cmd \
    "$src/readme.txt" "s3://$BUCKET/readme.txt"
step "info shows the metadata" expect_output_has "s3cmd" s3c info "s3://$BUCKET/readme.txt"
step "sync a tree up" s3c sync "$src/" "s3://$BUCKET/tree/"
step "ls -r lists the odd name" expect_output_has "ünïcode file.txt" s3c ls -r "s3://$BUCKET/tree/"
step "la lists every object" expect_output_has "readme.txt" s3c la
step "sync the tree down, identical" sync_down_matches
step "sync --delete-removed" sync_delete_removed
step "del one object" s3c del "s3://$BUCKET/big.bin"
step "del --recursive --force the rest" s3c del --recursive --force "s3://$BUCKET"
step "rb" s3c rb "s3://$BUCKET"
step "ls no longer shows the bucket" expect_output_lacks "s3://$BUCKET" s3c ls

scenario_finish
