# Sourced by mount.sh and test.sh: install what is missing, then put the
# project's virtual environment first on PATH. Safe to run again.
# Usage: . tools/setup-env.sh EXTRA   (EXTRA: "" for the daemon, "test" adds
# the test tools; always pass it, or the caller's own arguments leak in)

TPFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TPFS_VENV=${TPFS_VENV:-$TPFS_ROOT/.venv}
TPFS_SYSTEM_PACKAGES="fuse3 libfuse3-dev pkg-config gcc python3-dev python3-venv libtraceevent1 libtraceevent-dev libtracefs-dev"

tpfs_system_packages() {
    local missing=()
    command -v fusermount3 >/dev/null || missing+=(fuse3)
    pkg-config --exists fuse3 2>/dev/null || missing+=(libfuse3-dev pkg-config)
    command -v gcc >/dev/null || missing+=(gcc)
    ldconfig -p 2>/dev/null | grep -q 'libtraceevent\.so\.1 ' || missing+=(libtraceevent1)
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

tpfs_venv() {
    local extra=${1:-}
    local spec="$TPFS_ROOT"
    [ -n "$extra" ] && spec="$TPFS_ROOT[$extra]"
    local stamp="$TPFS_VENV/.tpfs-installed${extra:+-$extra}"
    if [ ! -x "$TPFS_VENV/bin/python" ]; then
        python3 -m venv "$TPFS_VENV" >&2 || return 1
    fi
    local probe="import pyfuse3, trio, tpfs.kernel._pages, tpfs.tracefs.trace._render"
    [ -n "$extra" ] && probe="$probe, pytest, pytest_trio, hypothesis"
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

if ! tpfs_system_packages || ! tpfs_venv "${1:-}"; then
    echo "tpfs: set-up failed" >&2
    return 1
fi
