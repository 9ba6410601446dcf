#!/usr/bin/env bash
# Mount tpfs, installing whatever is missing first; or unmount it.
#
#   ./mount.sh MOUNTPOINT [tpfs options]   mount in the background
#   ./mount.sh -u MOUNTPOINT               unmount and wait for the daemon to exit; with
#                                          files open there, unmount lazily: they keep
#                                          working and the daemon exits when they close
#
# The daemon's log, pid file and lock live in $TPFS_RUN (default: /tmp/tpfs-$UID).
set -euo pipefail

die() { echo "mount.sh: $*" >&2; exit 1; }

run_dir=$(realpath -m "${TPFS_RUN:-/tmp/tpfs-$(id -u)}")
key() { printf '%s' "$(realpath -m "$1")" | tr '/' '_'; }

# Hold MOUNTPOINT's lock until mount.sh exits: two mount.sh at once on one
# mountpoint would both mount, FUSE stacking the second mount on the first.
lock() {
    mkdir -p "$run_dir"
    exec 9>"$run_dir/$(key "$1").lock"
    flock -n 9 || die "another mount.sh is mounting or unmounting $1 right now"
}

# fuse_unmount MOUNTPOINT [lazy]
fuse_unmount() {
    local mnt=$1 lazy=${2:-}
    if command -v fusermount3 >/dev/null; then
        fusermount3 -u ${lazy:+-z} "$mnt" 2>/dev/null && return 0
    fi
    if [ "$(id -u)" -eq 0 ]; then
        umount ${lazy:+-l} "$mnt" 2>/dev/null && return 0
    fi
    return 1
}

# /proc/mounts writes a space, tab, newline or backslash in a path as \ooo.
is_mounted() {
    local want target
    want=$(realpath -m "$1")
    while read -r _ target _; do
        printf -v target '%b' "$target"
        [ "$target" = "$want" ] && return 0
    done </proc/mounts
    return 1
}

# is_daemon PID PIDFILE: is PID the daemon that mount.sh started with
# --pidfile PIDFILE? A stale pid file may name any process by now.
is_daemon() {
    local prev="" arg
    while IFS= read -r -d '' arg; do
        [ "$prev" = --pidfile ] && [ "$arg" = "$2" ] && return 0
        prev=$arg
    done 2>/dev/null <"/proc/$1/cmdline"
    return 1
}

# daemon_pid PIDFILE: print the daemon's pid; remove the pid file if it is stale.
daemon_pid() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    if [[ $pid =~ ^[0-9]+$ ]] && is_daemon "$pid" "$1"; then
        echo "$pid"
    else
        rm -f "$1"
    fi
}

# exited PID SECONDS: wait that long for PID, a daemon that is_daemon has
# vouched for, to be gone (the pid stays its own until its parent reaps it).
exited() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}

unmount() {
    local mnt=${1:?usage: mount.sh -u MOUNTPOINT}
    lock "$mnt"
    local pidfile pid
    pidfile="$run_dir/$(key "$mnt").pid"
    pid=$(daemon_pid "$pidfile")
    if ! is_mounted "$mnt"; then
        echo "mount.sh: $mnt is not mounted" >&2
        [ -z "$pid" ] || echo "mount.sh: its daemon (pid $pid) still serves files" \
            "opened before a lazy unmount, and exits when they close" >&2
        return 0
    fi
    if fuse_unmount "$mnt"; then
        # The daemon ends with its mount; make sure it does.
        if [ -n "$pid" ] && ! exited "$pid" 10; then
            is_daemon "$pid" "$pidfile" && kill -TERM "$pid" 2>/dev/null || true
            if ! exited "$pid" 2; then
                is_daemon "$pid" "$pidfile" && kill -KILL "$pid" 2>/dev/null || true
                rm -f "$pidfile"
            fi
        fi
        echo "unmounted $mnt"
    elif fuse_unmount "$mnt" lazy; then
        echo "unmounted $mnt lazily: the files open there keep working until they close"
        [ -z "$pid" ] || echo "the daemon (pid $pid) exits when the last one closes"
    else
        die "cannot unmount $mnt"
    fi
}

mount_tpfs() {
    local mnt=${1:?usage: mount.sh MOUNTPOINT [tpfs options]}
    shift
    [ -e /dev/fuse ] || die "/dev/fuse is missing: this machine cannot mount FUSE filesystems"
    lock "$mnt"
    if is_mounted "$mnt"; then
        if stat -t "$mnt" >/dev/null 2>&1; then
            die "$mnt is already mounted (./mount.sh -u $mnt first)"
        fi
        die "$mnt holds a dead mount (Transport endpoint is not connected): ./mount.sh -u $mnt"
    fi
    # shellcheck source=tools/setup-env.sh
    . "$(dirname "$0")/tools/setup-env.sh" "" || die "set-up failed"
    mkdir -p "$mnt"
    local log pidfile
    log="$run_dir/$(key "$mnt").log"
    pidfile="$run_dir/$(key "$mnt").pid"
    # The daemon writes the pid file once mounted and removes it when it ends;
    # it does not hold the lock (fd 9).
    nohup tpfs "$mnt" --foreground "$@" --pidfile "$pidfile" >"$log" 2>&1 </dev/null 9>&- &
    local pid=$!
    for _ in $(seq 200); do
        if is_mounted "$mnt" && stat -t "$mnt/available_events" >/dev/null 2>&1; then
            echo "tpfs mounted at $mnt"
            echo "pid $pid"
            echo "log $log"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
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
    -h|--help|"") sed -n '2,9s/^# \{0,1\}//p' "$0" ;;
    *) mount_tpfs "$@" ;;
esac
