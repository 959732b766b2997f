#!/usr/bin/env bash
# restic scenario: a backup repository on RingVault, end to end.
#
# Goal: restic (minio-go underneath) can init a repository in a bucket, back up a tree of
# files, verify every pack byte for byte with `check --read-data`, and restore a tree that is
# identical to the original (diff -r).
# Method: restic from Debian (installed when missing); repository and credentials only through
# environment variables, its cache inside the scratch directory.

SCENARIO=restic
source "$(dirname "${BASH_SOURCE[0]}")/scenario.sh"
rv_apt_install restic restic
scenario_start

export RESTIC_REPOSITORY="s3:$RV_ENDPOINT/$BUCKET"
export RESTIC_PASSWORD="ringvault-restic-scenario"
export RESTIC_CACHE_DIR="$RV_WORK/restic-cache"
export AWS_ACCESS_KEY_ID="$RV_ACCESS_KEY_ID"
export AWS_SECRET_ACCESS_KEY="$RV_SECRET_ACCESS_KEY"
export AWS_DEFAULT_REGION="$RV_REGION"

src="$RV_WORK/src"
make_tree "$src"
# More files than make_tree's, so the backup spans several packs and tree blobs.
mkdir -p "$src/many"
for i in $(seq 1 200); do
    printf 'file %d\n%s\n' "$i" "$(head -c $((i * 97)) /dev/zero | tr '\0' "$((i % 10))")" \
        >"$src/many/f-$i.txt"
done

restore_matches() {
    rm -rf "$RV_WORK/restore"
    restic restore latest --target "$RV_WORK/restore" &&
        diff -r "$src" "$RV_WORK/restore$src"
}

second_backup_is_incremental() {
    printf 'one more\n' >"$src/new-after-first-backup.txt"
    restic backup --host scenario "$src" && [[ "$(restic snapshots --json | python3 -c \
        'import json,sys; print(len(json.load(sys.stdin)))')" == 2 ]]
}

step "init a repository (creates the bucket)" restic init
step "backup a tree of files" restic backup --host scenario "$src"
step "check --read-data" restic check --read-data
step "restore, identical to the source (diff -r)" restore_matches
step "a second backup, two snapshots" second_backup_is_incremental
step "forget --prune the older snapshot" restic forget --keep-last 1 --prune
step "check --read-data after prune" restic check --read-data
step "restore after prune, identical" restore_matches

scenario_finish
