#!/usr/bin/env bash
# Runs one command against a fresh node: with-node.sh NAME COMMAND [ARGS...]
#
# For scenarios written in another language than bash (boto3_defaults.py): the node is started
# as for the shell scenarios (scenario.sh), the command gets RV_ENDPOINT, RV_REGION,
# RV_ACCESS_KEY_ID, RV_SECRET_ACCESS_KEY, RV_WORK, RV_ADMIN_ADDR and RV_ADMIN_TOKEN in its
# environment and the venv first on PATH, and its exit status is the script's.

SCENARIO="$1"
shift
source "$(dirname "${BASH_SOURCE[0]}")/scenario.sh"
scenario_start
export RV_ENDPOINT RV_REGION RV_ACCESS_KEY_ID RV_SECRET_ACCESS_KEY RV_WORK RV_ADMIN_ADDR RV_ADMIN_TOKEN
"$@"
