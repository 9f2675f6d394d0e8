#!/bin/sh
# Independent observation of the same facts the probe reports, with util-linux only.
# One line per observation: "<kind> <mode> <result> [details]" where result is
#   failed   unshare(1) exited non-zero
#   new      a process inside sees another namespace (inode differs, PID 1, clock offset)
#   same     a process inside sees the outside namespace
#   unobservable  unshare(1) worked but nothing here can tell whether the namespace is new
# and "chain <mode> ok|failed" for the rootless sandbox chain with a fresh /proc, and
# "caps prctl <bounding> <ambient>" (hex masks) asked bit by bit by caps_reference.py.
set -u

inode() { readlink "$1" 2>/dev/null | sed -n 's/.*\[\([0-9]*\)\]/\1/p'; }

observe() {  # kind mode unshare-args...
    kind=$1 mode=$2; shift 2
    outside=$(inode /proc/self/ns/$kind)
    case $kind in
    pid)  inside=$(unshare "$@" sh -c 'echo "$$ $(readlink /proc/self/ns/pid)"' 2>/dev/null) ;;
    time) inside=$(unshare "$@" --boottime 864000 cat /proc/uptime 2>/dev/null) ;;
    *)    inside=$(unshare "$@" sh -c "readlink /proc/self/ns/$kind 2>/dev/null || echo none" 2>/dev/null) ;;
    esac
    rc=$?
    if [ $rc -ne 0 ]; then echo "$kind $mode failed rc=$rc"; return; fi
    case $kind in
    pid)
        case "$inside" in "1 "*) echo "$kind $mode new pid1"; return ;; esac
        echo "$kind $mode same pid=${inside%% *}"; return ;;
    time)
        up=${inside%%.*}
        if [ "${up:-0}" -ge 864000 ]; then echo "$kind $mode new uptime=$up"; else echo "$kind $mode same uptime=$up"; fi
        return ;;
    esac
    in_inode=$(echo "$inside" | sed -n 's/.*\[\([0-9]*\)\]/\1/p')
    if [ -z "$outside" ] || [ -z "$in_inode" ]; then echo "$kind $mode unobservable"; return; fi
    if [ "$outside" != "$in_inode" ]; then echo "$kind $mode new $outside->$in_inode"; else echo "$kind $mode same $outside"; fi
}

for kind in user pid mnt net ipc uts cgroup time; do
    opt=--$kind
    [ $kind = mnt ] && opt=--mount
    if [ $kind = user ]; then
        observe user as_is --user --map-root-user --fork
    else
        observe $kind as_is $opt --fork
        observe $kind in_user_namespace --user --map-root-user $opt --fork
    fi
done

chain="--pid --mount --net --ipc --uts --fork --mount-proc"
if unshare $chain true 2>/dev/null; then echo "chain as_is ok"; else echo "chain as_is failed"; fi
if unshare --user --map-root-user $chain true 2>/dev/null; then echo "chain in_user_namespace ok"; else echo "chain in_user_namespace failed"; fi
/usr/bin/python3 "$(dirname "$0")/caps_reference.py"
