#!/usr/bin/env bash
# rclone scenario: copy, sync, check, lsf, delete against a fresh node.
#
# Goal: rclone's S3 backend (provider "Other", path-style) moves a tree of files in and out of
# RingVault intact, `check` agrees byte for byte (size and MD5 hashes from ETags), and deletes
# take effect.
# Method: rclone from Debian (installed when missing), configured only through RCLONE_CONFIG_RV_*
# variables so no rclone.conf is read or written.

SCENARIO=rclone
source "$(dirname "${BASH_SOURCE[0]}")/scenario.sh"
rv_apt_install rclone rclone
scenario_start

export RCLONE_CONFIG="$RV_WORK/rclone.conf"  # never the user's
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_RV_TYPE=s3
export RCLONE_CONFIG_RV_PROVIDER=Other
export RCLONE_CONFIG_RV_ENDPOINT="$RV_ENDPOINT"
export RCLONE_CONFIG_RV_ACCESS_KEY_ID="$RV_ACCESS_KEY_ID"
export RCLONE_CONFIG_RV_SECRET_ACCESS_KEY="$RV_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_RV_REGION="$RV_REGION"
export RCLONE_CONFIG_RV_FORCE_PATH_STYLE=true
rc() { rclone --retries 1 --low-level-retries 2 "$@"; }

src="$RV_WORK/src"
make_tree "$src"

copy_back_matches() {
    rm -rf "$RV_WORK/down"
    rc copy "rv:$BUCKET/tree" "$RV_WORK/down" && diff -r "$src" "$RV_WORK/down"
}

sync_propagates_changes() {
    rm "$src/docs/doc-2.txt"
    printf 'changed\n' >"$src/readme.txt"
    printf 'new file\n' >"$src/docs/added.txt"
    rc sync "$src" "rv:$BUCKET/tree" && rc check "$src" "rv:$BUCKET/tree"
}

lsf_lists_expected() {
    local out
    out="$(rc lsf -R "rv:$BUCKET/tree")"
    grep -qx 'docs/added.txt' <<<"$out" && ! grep -qx 'docs/doc-2.txt' <<<"$out" &&
        grep -qx 'docs/nested deeper/ünïcode file.txt' <<<"$out"
}

delete_empties_prefix() {
    rc delete "rv:$BUCKET/tree/docs"
    [[ -z "$(rc lsf -R "rv:$BUCKET/tree/docs")" ]]
}

step "mkdir (create bucket)" rc mkdir "rv:$BUCKET"
step "lsd shows the bucket" expect_output_has "$BUCKET" rc lsd rv:
step "copy a tree up" rc copy "$src" "rv:$BUCKET/tree"
step "check: local and remote agree" rc check "$src" "rv:$BUCKET/tree"
step "copy the tree back, identical" copy_back_matches
step "sync propagates edits, additions and deletions" sync_propagates_changes
step "lsf -R lists the expected names" lsf_lists_expected
step "cat one object" expect_output_has "document 3" rc cat "rv:$BUCKET/tree/docs/doc-3.txt"
step "deletefile one object" rc deletefile "rv:$BUCKET/tree/readme.txt"
step "delete a prefix" delete_empties_prefix
step "purge the bucket" rc purge "rv:$BUCKET"
step "lsd no longer shows the bucket" expect_output_lacks "$BUCKET" rc lsd rv:

scenario_finish
