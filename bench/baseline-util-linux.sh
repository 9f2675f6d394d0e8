#!/bin/sh
# Baseline A: the same namespace checks done the usual way, with util-linux unshare(1),
# plus reading /proc/self/status.
for opt in --user --pid --mount --net --ipc --uts --cgroup --time; do
    case $opt in
    --user) set -- --user --map-root-user ;;
    --pid|--time) set -- $opt --fork ;;
    *) set -- $opt ;;
    esac
    if unshare "$@" true 2>/dev/null; then echo "$opt ok"; else echo "$opt failed"; fi
done
grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status
