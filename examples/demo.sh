#!/bin/sh
# demo.sh: separate short-lived processes (tclsh "requests" of a CGI-style
# shop, then a C program) share state through one memcached that the first
# request starts on a socket file; a last tclsh process stops it.
#
# Run it with `make demo`, which builds the library and the C program and
# sets the environment: TCLLIBPATH (so `package require memcache` finds the
# package), LD_LIBRARY_PATH (for the C program), REPORT (the C program),
# TCLSH (optional).
#
# Everything happens in a new temporary directory, removed at the end.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
TCLSH=${TCLSH:-tclsh}
REPORT=${REPORT:?set REPORT to the program built from examples/report.c (make demo does)}

work=$(mktemp -d "${TMPDIR:-/tmp}/memcache-demo.XXXXXX")
daemon=""

# Is process $1 running? A zombie is not: an exited daemon stays one until
# init reaps it.
running() {
    state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
    [ -n "$state" ] && [ "$state" != Z ]
}

# Whatever happens, leave no daemon and no directory behind.
cleanup() {
    if [ -n "$daemon" ] && running "$daemon"; then
        kill "$daemon" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

say() {
    printf '\n== %s\n' "$*"
}

# One request: a new tclsh process, gone once it has answered. The
# arguments are the request; with none, it is in $QUERY_STRING (CGI).
request() {
    line=$("$TCLSH" "$here/session.tcl" "$@")
    printf '%s\n' "$line"
    if [ -z "$daemon" ]; then
        daemon=$(printf '%s\n' "$line" | sed -n 's/.*memcached pid \([0-9][0-9]*\).*/\1/p')
    fi
}

cd "$work"
say "A new directory, $work: no socket file, no daemon."
if [ -z "$(ls -A)" ]; then echo "(empty)"; fi

say "Requests. Each line is a separate tclsh process that handles one request and exits."
request alice view
request alice add apple
request bob view
request alice add pear
QUERY_STRING='session=bob&action=add&item=tea+cups'
echo "(the next one reads its request the CGI way: QUERY_STRING=$QUERY_STRING)"
export QUERY_STRING
request
unset QUERY_STRING
request alice view
request bob checkout
request alice add plums

say "Files now: the socket the daemon listens on (only its owner may use it) and the lock file beside it."
ls -l | sed -n 's/^\([^ ]*\) .* \([^ ]*\)$/\1  \2/p'

if running "$daemon"; then
    echo "memcached pid $daemon is still running: it outlived the request that started it."
    echo "Its parent is now pid $(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$daemon/status"), not a request: those have all exited."
fi

say "A C program reads the same sessions through the same socket."
"$REPORT" ./demo.sock alice bob

say "A last tclsh process stops the daemon."
"$TCLSH" "$here/stop.tcl" ./demo.sock | grep -v '^pid '

say "Is it gone?"
if running "$daemon"; then
    echo "memcached pid $daemon is still running: the demo FAILED"
    exit 1
fi
echo "memcached pid $daemon has exited; the socket file stays (stale) until the next"
echo "memcache create on it starts a new, empty daemon in its place."

say "Removing $work."
