# Helpers for the shell tests: each check prints a line only when it fails.
# Scripts run as: bash SCRIPT MOUNTPOINT
set -u
MNT=${1:?usage: $0 MOUNTPOINT}
checks=0
failed=0

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# check DESCRIPTION COMMAND...: the command succeeds
check() {
    local desc=$1; shift
    checks=$((checks + 1))
    "$@" || fail "$desc"
}

# same DESCRIPTION EXPECTED ACTUAL: two strings are equal
same() {
    checks=$((checks + 1))
    [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}

# refuses DESCRIPTION MESSAGE COMMAND...: the command fails and says MESSAGE
refuses() {
    local desc=$1 msg=$2 out; shift 2
    checks=$((checks + 1))
    if out=$("$@" 2>&1); then
        fail "$desc: succeeded, expected '$msg'"
    elif ! grep -q -- "$msg" <<<"$out"; then
        fail "$desc: expected '$msg', got: $out"
    fi
}

finish() {
    echo "$checks checks, $failed failed"
    [ "$failed" -eq 0 ]
}
