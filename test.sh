#!/usr/bin/env bash
# Set up everything that is missing, then run the linter and the whole test suite.
# Extra arguments go to pytest, e.g. ./test.sh -k seqfile
set -euo pipefail
cd "$(dirname "$0")"
. tools/setup-env.sh test || exit 1
ruff check
status=0
python -m pytest "$@" || status=$?
# pytest's 5 means it collected nothing: that is a failure here too.
exit "$status"
