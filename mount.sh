#!/usr/bin/env bash
# Mount tpfs, installing whatever is missing first; or unmount it.
#
#   ./mount.sh MOUNTPOINT [tpfs options]   mount in the background
#   ./mount.sh -u MOUNTPOINT               unmount, wait for the daemon to exit
#
# The daemon's log and pid file live in $TPFS_RUN (default: /tmp/tpfs-$UID).
set -euo pipefail

die() { echo "mount.sh: $*" >&2; exit 1; }

run_dir=${TPFS_RUN:-/tmp/tpfs-$(id -u)}
key() { printf '%s' "$(realpath -m "$1")" | tr '/' '_'; }

fuse_unmount() {
    local mnt=$1
    if command -v fusermount3 >/dev/null; then
        fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null && return 0
    fi
    if [ "$(id -u)" -eq 0 ]; then
        umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null && return 0
    fi
    return 1
}

is_mounted() {
    awk -v m="$(realpath -m "$1")" '$2 == m { found = 1 } END { exit !found }' /proc/mounts
}

unmount() {
    local mnt=${1:?usage: mount.sh -u MOUNTPOINT}
    local pidfile
    pidfile="$run_dir/$(key "$mnt").pid"
    if is_mounted "$mnt"; then
        fuse_unmount "$mnt" || die "cannot unmount $mnt"
    else
        echo "mount.sh: $mnt is not mounted" >&2
    fi
    if [ -f "$pidfile" ]; then
        local pid
        pid=$(cat "$pidfile")
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            sleep 1
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    fi
    echo "unmounted $mnt"
}

mount_tpfs() {
    local mnt=${1:?usage: mount.sh MOUNTPOINT [tpfs options]}
    shift
    [ -e /dev/fuse ] || die "/dev/fuse is missing: this machine cannot mount FUSE filesystems"
    if is_mounted "$mnt"; then
        if stat -t "$mnt" >/dev/null 2>&1; then
            die "$mnt is already mounted (./mount.sh -u $mnt first)"
        fi
        die "$mnt holds a dead mount (Transport endpoint is not connected): ./mount.sh -u $mnt"
    fi
    # shellcheck source=tools/setup-env.sh
    . "$(dirname "$0")/tools/setup-env.sh" "" || die "set-up failed"
    mkdir -p "$mnt" "$run_dir"
    local log pidfile
    log="$run_dir/$(key "$mnt").log"
    pidfile="$run_dir/$(key "$mnt").pid"
    nohup tpfs "$mnt" --foreground "$@" >"$log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$pidfile"
    for _ in $(seq 200); do
        if is_mounted "$mnt" && stat -t "$mnt/available_events" >/dev/null 2>&1; then
            echo "tpfs mounted at $mnt"
            echo "pid $pid"
            echo "log $log"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
            cat "$log" >&2
            die "the daemon exited before the mount came up"
        fi
        sleep 0.05
    done
    kill -TERM "$pid" 2>/dev/null || true
    cat "$log" >&2
    die "the mount did not come up within 10 s"
}

case "${1:-}" in
    -u) shift; unmount "$@" ;;
    -h|--help|"") sed -n '2,8s/^# \{0,1\}//p' "$0" ;;
    *) mount_tpfs "$@" ;;
esac
