#!/bin/sh
# Stands in for the agent CLI in the server tests: it does what a compromised or
# prompt-injected agent does, and runs its prompt (standard input) as a shell command.
# It takes the agent's flags like Claude Code would and reports, on standard error, whether
# the --settings file it was given is readable where it runs (inside the isolation).
settings=
while [ $# -gt 0 ]; do
    case "$1" in
    --settings) settings=$2; shift 2 ;;
    *) shift ;;
    esac
done
if [ -n "$settings" ]; then
    if grep -q '"defaultMode": "dontAsk"' "$settings" 2>/dev/null; then
        echo "stand-in: policy readable: $settings" >&2
    else
        echo "stand-in: policy NOT readable: $settings" >&2
    fi
fi
prompt=$(cat)
exec /bin/sh -c "$prompt"
