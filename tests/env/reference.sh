#!/bin/sh
# Independent observation of the same facts the probe reports, with util-linux only.
# One line per observation: "<kind> <mode> <result> [details]" where result is
#   failed   unshare(1) exited non-zero
#   new      a process inside sees another namespace (inode differs, PID 1, clock offset)
#   same     a process inside sees the outside namespace
#   unobservable  unshare(1) worked but nothing here can tell whether the namespace is new
# and "chain <mode> ok|failed" for the rootless sandbox chain with a fresh /proc, and
# "caps prctl <bounding> <ambient>" (hex masks) asked bit by bit by caps_reference.py, and
# "control <kind> same|differs|unreadable": whether two processes in one namespace read the
# same /proc/self/ns link (where not, ipc and net are proven by acting_reference.py).
set -u

inode() { readlink "$1" 2>/dev/null | sed -n 's/.*\[\([0-9]*\)\]/\1/p'; }

# The control: two processes that did not unshare read the same link. Where they read
# different numbers (gVisor 20221219: every link, 20240729: user) the link proves nothing.
control() {  # kind
    a=$(inode /proc/self/ns/$1) b=$(inode /proc/self/ns/$1)
    if [ -z "$a" ] || [ -z "$b" ]; then echo unreadable; elif [ "$a" = "$b" ]; then echo same; else echo differs; fi
}

observe() {  # kind mode unshare-args...
    kind=$1 mode=$2; shift 2
    outside=$(inode /proc/self/ns/$kind)
    ctl=$(control $kind)
    [ $mode = as_is ] && echo "control $kind $ctl"
    if [ $ctl != same ] && { [ $kind = ipc ] || [ $kind = net ]; }; then
        # No link to trust: act instead, on an object held outside.
        /usr/bin/python3 "$here/acting_reference.py" $kind $mode "$@"; return
    fi
    if [ $ctl != same ] && [ $kind = user ]; then
        # --map-root-user writes uid_map, which only a new user namespace accepts.
        if unshare "$@" true 2>/dev/null; then echo "$kind $mode new uid_map-written"; else echo "$kind $mode failed"; fi
        return
    fi
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
    if [ $ctl != same ]; then echo "$kind $mode unobservable control=$ctl"; return; fi
    in_inode=$(echo "$inside" | sed -n 's/.*\[\([0-9]*\)\]/\1/p')
    if [ -z "$outside" ] || [ -z "$in_inode" ]; then echo "$kind $mode unobservable"; return; fi
    if [ "$outside" != "$in_inode" ]; then echo "$kind $mode new $outside->$in_inode"; else echo "$kind $mode same $outside"; fi
}

here=$(dirname "$0")
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

# The chain needs pid and mnt with a fresh /proc; where every kind at once is refused (not
# killed: a signal ends the probe's chain too), the other kinds are taken where they work,
# as the probe's sandbox chain does under a per-kind filter.
chain() {  # mode unshare-args...
    mode=$1; shift
    unshare "$@" --pid --mount --net --ipc --uts --fork --mount-proc true 2>/dev/null; rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ]; then unshare "$@" --pid --mount --fork --mount-proc true 2>/dev/null; rc=$?; fi
    if [ $rc -eq 0 ]; then echo "chain $mode ok"; else echo "chain $mode failed"; fi
}
chain as_is
chain in_user_namespace --user --map-root-user
/usr/bin/python3 "$here/caps_reference.py"
