#!/bin/sh
# demo.sh: separate short-lived processes (tclsh "requests" of a CGI-style
# shop, then a C program) share state through one memcached that the first
# request starts on a socket file; eight requests at once add to one cart
# with `memcache update` (behind lighttpd when it is installed); a
# persistent daemon keeps a session across a stop and a start; a last
# tclsh process stops the first daemon.
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

say "Eight requests at once add to one cart (memcache update: none is lost)."
# Through a real web server when lighttpd is installed, else as eight CGI
# processes started directly.
web=""
if command -v lighttpd >/dev/null 2>&1; then
    port=$(echo 'set s [socket -server {} -myaddr 127.0.0.1 0]; puts [lindex [fconfigure $s -sockname] 2]' | "$TCLSH")
    mkdir www
    cp "$here/cart.tcl" www/
    cat > lighttpd.conf <<CONF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$work/lighttpd.log"
server.modules = ("mod_setenv", "mod_cgi")
setenv.add-environment = ("TCLLIBPATH" => "${TCLLIBPATH:-}", "CART_SOCKET" => "$work/demo.sock", "LD_LIBRARY_PATH" => "${LD_LIBRARY_PATH:-}")
cgi.assign = (".tcl" => "$(command -v "$TCLSH")")
CONF
    lighttpd -D -f lighttpd.conf >lighttpd.out 2>&1 &
    web=$!
    tries=0
    until echo "exit [catch {close [socket 127.0.0.1 $port]}]" | "$TCLSH" 2>/dev/null; do
        tries=$((tries + 1))
        [ $tries -lt 200 ] || { echo "lighttpd did not start:"; cat lighttpd.out lighttpd.log; exit 1; }
        sleep 0.05
    done
    echo "lighttpd serves the cart at http://127.0.0.1:$port/cart.tcl?user=carol&item=apple while the demo runs."
    pids=""
    for i in 1 2 3 4 5 6 7 8; do
        echo "package require http; set t [http::geturl {http://127.0.0.1:$port/cart.tcl?user=carol&item=item$i}]; puts -nonewline [http::data \$t]" \
            | "$TCLSH" > "request$i.out" &
        pids="$pids $!"
    done
else
    echo "(lighttpd is not installed: apt-get install lighttpd to see this behind a web"
    echo " server; the requests run as CGI processes started directly)"
    pids=""
    for i in 1 2 3 4 5 6 7 8; do
        QUERY_STRING="user=carol&item=item$i" CART_SOCKET=./demo.sock "$TCLSH" "$here/cart.tcl" > "request$i.out" &
        pids="$pids $!"
    done
fi
for pid in $pids; do wait "$pid"; done
echo "Their answers (each saw the cart as it stood after its own item):"
for i in 1 2 3 4 5 6 7 8; do tr -d '\r' < "request$i.out" | sed -n 's/^carol/  carol/p'; done
echo "The cart at the end:"
echo 'package require memcache; set mc [memcache create ./demo.sock]; set c [memcache get $mc cart:carol]; puts "  [llength $c] items: [lsort -dictionary $c]"' | "$TCLSH"
if [ -n "$web" ]; then
    kill "$web" 2>/dev/null || true
    wait "$web" 2>/dev/null || true
fi

say "A persistent daemon (-persist 1) keeps the sessions across a stop and a start."
"$TCLSH" <<'TCL'
package require memcache
set mc [memcache create -persist 1 ./keep.sock]
memcache put $mc session:dave {cart {milk bread}} 3600
puts "stored session:dave; stop: [memcache stop $mc]; start: [memcache start $mc]"
puts "after the restart: [memcache get $mc session:dave] (lifetime left [memcache ttl $mc session:dave] s)"
puts "stop: [memcache stop $mc] (its memory file keep.sock.mem stays for the next start)"
TCL

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
