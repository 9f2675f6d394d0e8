#!/bin/sh
# Container entrypoint: measure the isolation this container really has, refuse to start
# below the minimum, prove the chosen backend keeps two tenants apart here (probe verify:
# tenant B attacks tenant A through probe launch), export the choice, exec the server.
#
#   ISOLATION_MINIMUM   weakest backend the server may run with (default: uid). One of
#                       namespaces, namespaces-shared-proc, landlock, uid, directories.
#   ISOLATION_ENV_FILE  where the ISOLATION_* variables are written (default /tmp/isolation.env)
#   PROBE               the probe binary (default /usr/local/bin/probe)
set -eu
PROBE="${PROBE:-/usr/local/bin/probe}"
MINIMUM="${ISOLATION_MINIMUM:-uid}"
ENV_FILE="${ISOLATION_ENV_FILE:-/tmp/isolation.env}"

set +e
"$PROBE" --require "$MINIMUM" --format env --output "$ENV_FILE"
status=$?
set -e
case $status in
0) ;;
3)
    echo "entrypoint: refusing to start: the strongest isolation here is below ISOLATION_MINIMUM=$MINIMUM (reason above)" >&2
    exit 3 ;;
*)
    echo "entrypoint: refusing to start: namespace-probe failed with exit status $status" >&2
    exit 1 ;;
esac

set -a
. "$ENV_FILE"
set +a

# The self-test, for the backend the server will use; its table goes to the log.
set +e
"$PROBE" verify --backend "$ISOLATION_BACKEND" >&2
status=$?
set -e
case $status in
0) ;;
4)
    echo "entrypoint: refusing to start: backend $ISOLATION_BACKEND does not keep tenants apart here (failed attacks above)" >&2
    exit 4 ;;
*)
    echo "entrypoint: refusing to start: the isolation self-test could not run (probe verify exit status $status, reason above)" >&2
    exit 1 ;;
esac
echo "entrypoint: isolation backend $ISOLATION_BACKEND verified (minimum $MINIMUM, gVisor $ISOLATION_GVISOR, uid switch $ISOLATION_UID_SWITCH)" >&2
exec "$@"
