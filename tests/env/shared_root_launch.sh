#!/bin/sh
# Run a command where / has shared propagation, as on a systemd host, inside a private mount
# namespace of its own (the host's propagation is not changed). A mount that a child makes
# before it makes its own / private would propagate here: this namespace's mountinfo is
# compared before and after, and a change fails the run (exit 99).
#   shared_root_launch.sh CMD...
set -eu
exec unshare --mount --propagation private sh -c '
    mount --make-rshared /
    before=$(cut -d" " -f5- /proc/self/mountinfo)
    rc=0
    "$@" || rc=$?
    after=$(cut -d" " -f5- /proc/self/mountinfo)
    if [ "$before" != "$after" ]; then
        echo "shared_root_launch: mountinfo changed across the run" >&2
        exit 99
    fi
    exit $rc' shared_root_launch "$@"
