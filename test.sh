#!/usr/bin/env bash
# Set up everything that is missing, then check the layers and the types, lint,
# and run the whole test suite. Extra arguments go to pytest, e.g.
#   ./test.sh tests/model        (the model alone: seconds, no FUSE needed)
#   ./test.sh -m "not mount"     (every tier that needs no mount)
set -euo pipefail
cd "$(dirname "$0")"
. tools/setup-env.sh test || exit 1
ruff check
lint-imports --no-cache
mypy
status=0
# Two workers; the tests that use the kernel's tracefs take turns (tests/conftest.py).
# The pytest script, not python -m pytest: the checkout is not on sys.path then,
# so a test that imports from it as from a package fails here as in any run.
pytest -n 2 "$@" || status=$?
# pytest's 5 means it collected nothing: that is a failure here too.
exit "$status"
