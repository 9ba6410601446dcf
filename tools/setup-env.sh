# Sourced by mount.sh and test.sh: install what is missing, then put the
# project's virtual environment first on PATH. Safe to run again.
# Usage: . tools/setup-env.sh EXTRA   (EXTRA: "" for the daemon, "test" adds
# the test tools; always pass it, or the caller's own arguments leak in)

TPFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TPFS_VENV=${TPFS_VENV:-$TPFS_ROOT/.venv}
TPFS_SYSTEM_PACKAGES="fuse3 libfuse3-dev pkg-config gcc python3-dev python3-venv libtraceevent1 libtraceevent-dev libtracefs-dev"
# What the tests drive besides (extra "test"): the tracing clients, libtracefs's
# headers for the C programs, and the system python3 with venv, headers (pyfuse3
# builds for it) and bcc, which the unprivileged-mount and bcc tests run.
TPFS_TEST_PACKAGES="trace-cmd linux-perf bpftrace bpfcc-tools python3-bpfcc libtracefs-dev libtraceevent-dev"
TPFS_TEST_PACKAGES+=" python3-venv python3-dev"

tpfs_system_packages() {
    local missing=()
    command -v fusermount3 >/dev/null || missing+=(fuse3)
    pkg-config --exists fuse3 2>/dev/null || missing+=(libfuse3-dev pkg-config)
    command -v gcc >/dev/null || missing+=(gcc)
    # ldconfig lives in /sbin, which is not on every user's PATH. Its list is taken
    # whole: grep -q, leaving at the first match, would end ldconfig by SIGPIPE,
    # which pipefail (mount.sh's, test.sh's) takes for the library missing.
    local libs
    libs=$(PATH="$PATH:/usr/sbin:/sbin" ldconfig -p 2>/dev/null) || libs=""
    [[ $libs == *"libtraceevent.so.1 "* ]] || missing+=(libtraceevent1)
    # the native renderer (setup.py) is built against its headers
    [ -e /usr/include/traceevent/event-parse.h ] || missing+=(libtraceevent-dev)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "tpfs: missing system packages (${missing[*]}); as root run:" >&2
        echo "  apt-get install -y $TPFS_SYSTEM_PACKAGES" >&2
        return 1
    fi
    echo "tpfs: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq $TPFS_SYSTEM_PACKAGES >&2
}

# The test extra's packages: installed as root; another user is told the command
# once and goes on (the tests that need a missing one then skip, which CI fails).
tpfs_test_packages() {
    local missing=()
    command -v trace-cmd >/dev/null || missing+=(trace-cmd)
    command -v perf >/dev/null || missing+=(linux-perf)
    command -v bpftrace >/dev/null || missing+=(bpftrace)
    command -v tplist-bpfcc >/dev/null || missing+=(bpfcc-tools)
    /usr/bin/python3 -c "import bcc" 2>/dev/null || missing+=(python3-bpfcc)
    # libtracefs.pc requires libtraceevent.pc, which Debian ships apart.
    pkg-config --exists libtraceevent 2>/dev/null || missing+=(libtraceevent-dev)
    pkg-config --exists libtracefs 2>/dev/null || missing+=(libtracefs-dev)
    /usr/bin/python3 -c "import ensurepip" 2>/dev/null || missing+=(python3-venv)
    /usr/bin/python3 -c 'import os, sysconfig; exit(not os.path.exists(
        sysconfig.get_paths()["include"] + "/Python.h"))' 2>/dev/null || missing+=(python3-dev)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "tpfs: tests need ${missing[*]}; as root run: apt-get install -y $TPFS_TEST_PACKAGES" >&2
        return 0
    fi
    echo "tpfs: installing ${missing[*]} for the tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq "${missing[@]}" >&2 \
        || { apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2; }; }
}

tpfs_venv() {
    local extra=${1:-}
    local spec="$TPFS_ROOT"
    [ -n "$extra" ] && spec="$TPFS_ROOT[$extra]"
    local stamp="$TPFS_VENV/.tpfs-installed${extra:+-$extra}"
    if [ ! -x "$TPFS_VENV/bin/python" ]; then
        python3 -m venv "$TPFS_VENV" >&2 || return 1
    fi
    local probe="import pyfuse3, trio, tpfs.kernel._pages, tpfs.kernel._commit, tpfs.tracefs.trace._render, tpfs.tracefs._fire"
    [ -n "$extra" ] && probe="$probe, pytest, pytest_trio, pytest_timeout, hypothesis"
    if ! (cd / && "$TPFS_VENV/bin/python" -c "$probe" 2>/dev/null) \
        || { [ -e "$stamp" ] && [ "$TPFS_ROOT/pyproject.toml" -nt "$stamp" ]; } \
        || { [ -e "$stamp" ] && [ -n "$(find "$TPFS_ROOT/setup.py" "$TPFS_ROOT/tpfs" \
                -name '*.c' -newer "$stamp" -o -name setup.py -newer "$stamp")" ]; }; then
        echo "tpfs: installing the Python package into $TPFS_VENV" >&2
        "$TPFS_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" >&2 \
            || return 1
        touch "$stamp"
    fi
    PATH="$TPFS_VENV/bin:$PATH"
    export PATH
}

if ! tpfs_system_packages || { [ "${1:-}" = test ] && ! tpfs_test_packages; } \
    || ! tpfs_venv "${1:-}"; then
    echo "tpfs: set-up failed" >&2
    return 1
fi
