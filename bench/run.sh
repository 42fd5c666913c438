#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs. See the README's "Benchmarks".
#
# Starts its own memcached (TCP on a free loopback port, and a Unix socket
# in a temporary directory, and a TLS one (-Z) on another port with a
# certificate made by openssl for the run), builds the library (cargo build --release) and
# bench/bench.c, then runs the C bench (floor, libmemcached, this library)
# and the Tcl bench (the memcache ensemble, a pure-Tcl client) in
# alternation, counts system calls per operation under strace, prints one
# table and writes target/bench/results.csv. The daemons are stopped at the
# end, also on failure or Ctrl-C.
#
# Settings (environment): BENCH_PASSES (3) passes of BENCH_REPS (2) rounds
# per language and workload, BENCH_TIME (0.15) seconds per trial,
# BENCH_THREADS (2) memcached worker threads, MEMCACHED (memcached),
# BENCH_INSTRUCTIONS=0 not to count instructions per operation with
# callgrind (counted by default: the stable figure).
# The Tcl bench runs under Tcl 8.6 (tclsh) and Tcl 9 ($TCLSH9, default
# tclsh9.0, as .ci/tcl9.sh installs it; without one the Tcl 9 rows are
# left out, with a line saying so). The Python bench (bench/bench.py) runs
# this module (`pip install .`), pylibmc and pymemcache in one virtual
# environment under target/bench/, python-memcached (also `memcache`) in
# another; without python3 the Python rows are left out.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/target/bench
passes=${BENCH_PASSES:-3}
reps=${BENCH_REPS:-2}
secs=${BENCH_TIME:-0.15}
threads=${BENCH_THREADS:-2}
memcached=${MEMCACHED:-memcached}
start_time=$(date +%s)

say() { printf 'bench: %s\n' "$*" >&2; }

# ----- what the bench needs -----

missing=()
[ -f /usr/include/libmemcached/memcached.h ] || missing+=(libmemcached-dev)
command -v "$memcached" >/dev/null || missing+=(memcached)
command -v tclsh >/dev/null || missing+=(tcl)
command -v cc >/dev/null || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} with apt-get (missing)"
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# ----- build -----

mkdir -p "$out"
say "cargo build --release"
(cd "$root" && cargo build --release --quiet)
lib=$root/target/release
# Programs linked against it look for its SONAME (libmemcache.so.<major>).
ln -sf libmemcache.so "$lib/libmemcache.so.$(sed -n 's/^version = "\([0-9]*\)\..*/\1/p' "$root/Cargo.toml" | head -n 1)"
# The Tcl bench loads this build (not the newest of release and debug).
export MEMCACHE_LIB=$lib/libmemcache.so
# Tcl 9: its tclsh for the timed runs, and for callgrind the command that
# runs it without the wrapper script (.ci/tcl9.sh's loader and libraries).
tclsh9=${TCLSH9:-tclsh9.0}
command -v "$tclsh9" >/dev/null || { say "$tclsh9 not found (bash .ci/tcl9.sh): no Tcl 9 rows"; tclsh9=; }
tcl9root=${TCL9_ROOT:-/opt/tcl9}
tclsh9direct=()
if [ -n "$tclsh9" ] && [ -x "$tcl9root/usr/bin/tclsh9.0" ]; then
    tclsh9direct=("$tcl9root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        --library-path "$tcl9root/usr/lib/x86_64-linux-gnu" "$tcl9root/usr/bin/tclsh9.0")
fi
# Python: the two virtual environments (made once; this module reinstalled
# from the tree every run).
py=
pm=
if command -v python3 >/dev/null; then
    py=$out/py-venv/bin/python
    pm=$out/pm-venv/bin/python
    [ -x "$py" ] || python3 -m venv "$out/py-venv"
    [ -x "$pm" ] || python3 -m venv "$out/pm-venv"
    say "pip install . pylibmc pymemcache (target/bench/py-venv), python-memcached (target/bench/pm-venv)"
    "$py" -m pip install --quiet --disable-pip-version-check pylibmc pymemcache setuptools setuptools-rust wheel
    (cd "$root" && CARGO_TARGET_DIR="$root/target/python-build" "$py" -m pip install --quiet \
        --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall .)
    "$pm" -m pip install --quiet --disable-pip-version-check python-memcached==1.62
else
    say "python3 not found: no Python rows"
fi
cc -O2 -g -Wall -Wextra -Werror -I"$root/include" "$root/bench/bench.c" -o "$out/bench" \
    -L"$lib" -Wl,-rpath,"$lib" -lmemcache -lmemcached -lpthread

# ----- memcached, on a free port and a Unix socket -----

tmp=$(mktemp -d /tmp/mc-bench-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)

# memcached on the last core, the timed clients on the others: a wake-up
# across cores is dear on a virtual machine (measured here: a get costs the
# client 6 µs of CPU, 73k gets/s, when it shares memcached's core, and
# 21 µs, 18k/s, when not), so a trial's rate depended on whether the
# scheduler happened to put the two on one core, and the ratios between
# clients came out bimodal. Pinned, every trial is the across-cores case.
server_pin=()
client_pin=()
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
    server_pin=(taskset -c "$((ncpu - 1))")
    client_pin=(taskset -c "0-$((ncpu - 2))")
fi
common=(-U 0 -m 256 -t "$threads" -c 1024 "${user[@]}")

# start_tcp NAME ARGS...: memcached with ARGS on a free loopback port,
# which it leaves in $started.
start_tcp() {
    local name=$1 try pid
    shift
    for _ in $(seq 1 20); do
        try=$((20000 + RANDOM % 40000))
        "${server_pin[@]}" "$memcached" -l 127.0.0.1 -p "$try" "${common[@]}" "$@" 2>"$tmp/$name.log" &
        pid=$!
        for _ in $(seq 1 50); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$try") 2>/dev/null; then
                pids+=("$pid")
                started=$try
                return
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.02
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    say "could not start memcached ($name) on a free port"
    cat "$tmp/$name.log" >&2
    exit 1
}
start_tcp tcp
port=$started

# TLS: a CA and a certificate for 127.0.0.1, made for this run.
ca=$tmp/ca.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=bench-ca -keyout "$tmp/ca.key" -out "$ca" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$tmp/server.ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$ca" -CAkey "$tmp/ca.key" -CAcreateserial \
    -days 1 -extfile "$tmp/server.ext" -out "$tmp/server.pem" 2>/dev/null
start_tcp tls -Z -o "ssl_chain_cert=$tmp/server.pem,ssl_key=$tmp/server.key"
tls_port=$started

sock=$tmp/mc.sock
"${server_pin[@]}" "$memcached" -s "$sock" -a 0700 "${common[@]}" 2>"$tmp/unix.log" &
pids+=("$!")
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.02; done
[ -S "$sock" ] || { say "could not start memcached on $sock"; cat "$tmp/unix.log" >&2; exit 1; }

# ----- run -----

# The TLS server's total_connections: each TLS connection is one handshake.
tls_connections() {
    echo "load {$MEMCACHE_LIB} Memcache
        set h [memcache create -tlsca {$ca} tls://127.0.0.1:$tls_port]
        puts [dict get [lindex [memcache stats \$h] 1] total_connections]" | tclsh
}
tls_before=$(tls_connections)

raw=$out/raw.csv
sys=$out/syscalls.csv
: >"$raw"
: >"$sys"
say "memcached $("$memcached" -V | cut -d' ' -f2) on 127.0.0.1:$port and $sock ($threads threads)"
say "$passes passes x $reps rounds x ${secs}s per trial, C and Tcl in alternation per workload"
# Each workload is run by the C bench, then by the Tcl bench, so that the
# Tcl/C ratios compare trials seconds apart, not a minute apart.
for pass in $(seq 1 "$passes"); do
    for workload in get set mget100 mset100 get512k set512k get4t text512k; do
        [ "$workload" = text512k ] || "${client_pin[@]}" "$out/bench" --tcp "127.0.0.1:$port" --unix "$sock" \
            --tls "127.0.0.1:$tls_port" --tls-ca "$ca" \
            --reps "$reps" --time "$secs" --pass "$pass" --workloads "$workload" --out "$raw"
        if [ -n "$py" ] && [ "$workload" != text512k ] && [ "$workload" != set512k ]; then
            "${client_pin[@]}" "$py" "$root/bench/bench.py" run --tcp "127.0.0.1:$port" --reps "$reps" --time "$secs" \
                --pass "$pass" --workloads "$workload" --out "$raw" \
                --clients memcache,memcache-client,pylibmc,pymemcache
            "${client_pin[@]}" "$pm" "$root/bench/bench.py" run --tcp "127.0.0.1:$port" --reps "$reps" --time "$secs" \
                --pass "$pass" --workloads "$workload" --out "$raw" --clients python-memcached
        fi
        [ "$workload" = get4t ] && continue
        for tcl in tclsh $tclsh9; do
            "${client_pin[@]}" "$tcl" "$root/bench/bench.tcl" run --tcp "127.0.0.1:$port" --unix "$sock" \
                --reps "$reps" --time "$secs" --pass "$pass" --workloads "$workload" --out "$raw"
        done
    done
done

# Handshakes during the runs (less the reading's own connection).
echo $(( $(tls_connections) - tls_before - 1 )) >"$out/handshakes.txt"

# System calls per operation: strace -c of N operations, less those of a run
# with none (start-up, connections, the seeding of the items).
if command -v strace >/dev/null; then
    n=2000
    for transport in tcp unix; do
        for client in floor libmemcached memcache; do
            args=(--"$transport" "$([ "$transport" = tcp ] && echo "127.0.0.1:$port" || echo "$sock")"
                  --clients "$client")
            strace -f -c -o "$tmp/base" "$out/bench" "${args[@]}" --workloads get --ops 0
            for workload in get set; do
                strace -f -c -o "$tmp/run" "$out/bench" "${args[@]}" --workloads "$workload" --ops "$n"
                awk -v n="$n" -v c="$client" -v w="$workload" -v t="$transport" '
                    FNR == 1 { file++ }
                    $1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
                        if (file == 1) base[$NF] += $4; else run[$NF] += $4
                    }
                    END {
                        total = 0; detail = ""
                        for (s in run) {
                            d = (run[s] - base[s]) / n
                            if (d < 0.005) continue
                            total += d
                            detail = detail (detail == "" ? "" : " ") sprintf("%s %.2f", s, d)
                        }
                        printf "%s,%s,%s,%.2f,%s\n", c, w, t, total, detail
                    }' "$tmp/base" "$tmp/run" >>"$sys"
            done
        done
    done
else
    say "strace not found: no system call counts"
fi

# Unless BENCH_INSTRUCTIONS=0 (and with valgrind): user-space instructions
# per operation, which unlike CPU time do not vary from run to run. C: only
# inside the timed loop (--toggle-collect=run_ops); Tcl: a run of N
# operations less a run of none. About 40 s more.
ins=$out/instructions.csv
rm -f "$ins"
if [ "${BENCH_INSTRUCTIONS:-1}" = 1 ]; then
    if command -v valgrind >/dev/null; then
        say "counting instructions with callgrind"
        irs() { # file -> total instructions
            awk '/^(summary|totals):/ { print $2; exit }' "$1"
        }
        # Tcl: a run of n operations less a run of none, in Tcl 8.6 ("tcl")
        # and Tcl 9 ("tcl9").
        tcl_irs() { # lang tclsh... -- client workload
            local lang=$1; shift
            local cmd=()
            while [ "$1" != -- ]; do cmd+=("$1"); shift; done
            shift
            for n in 0 300; do
                valgrind --tool=callgrind --callgrind-out-file="$tmp/cg$n" "${cmd[@]}" \
                    "$root/bench/bench.tcl" count "127.0.0.1:$port" "$1" "$2" "$n" \
                    >/dev/null 2>&1
            done
            echo "$lang,$1,$2,$(( ($(irs "$tmp/cg300") - $(irs "$tmp/cg0")) / 300 ))" >>"$ins"
        }
        for workload in get set mget100 text512k; do
            [ "$workload" = text512k ] || for client in floor floor-meta libmemcached memcache; do
                valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" --toggle-collect=run_ops \
                    "$out/bench" --tcp "127.0.0.1:$port" --clients "$client" \
                    --workloads "$workload" --ops 1000 >/dev/null 2>&1
                echo "c,$client,$workload,$(( $(irs "$tmp/cg") / 1000 ))" >>"$ins"
            done
            [ "$workload" = text512k ] || {
                valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" --toggle-collect=run_ops \
                    "$out/bench" --tls "127.0.0.1:$tls_port" --tls-ca "$ca" --clients memcache \
                    --workloads "$workload" --ops 1000 >/dev/null 2>&1
                echo "c,memcache-tls,$workload,$(( $(irs "$tmp/cg") / 1000 ))" >>"$ins"
            }
            for client in memcache puretcl; do
                tcl_irs tcl tclsh -- "$client" "$workload"
                [ ${#tclsh9direct[@]} -eq 0 ] || tcl_irs tcl9 "${tclsh9direct[@]}" -- "$client" "$workload"
            done
            # Python: a run of n operations less a run of none, as Tcl.
            [ -n "$py" ] && [ "$workload" != text512k ] || continue
            for client in memcache memcache-client pylibmc pymemcache python-memcached; do
                python=$py
                [ "$client" = python-memcached ] && python=$pm
                # A fixed hash seed: dict probing, so the count, repeats.
                for n in 0 1000; do
                    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file="$tmp/py$n" "$python" \
                        "$root/bench/bench.py" count "127.0.0.1:$port" "$client" "$workload" "$n" \
                        >/dev/null 2>&1
                done
                echo "py,$client,$workload,$(( ($(irs "$tmp/py1000") - $(irs "$tmp/py0")) / 1000 ))" >>"$ins"
            done
        done
    else
        say "valgrind not found: no instruction counts"
    fi
fi

# ----- report -----

{
    echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, Linux $(uname -r)"
    echo "memcached $("$memcached" -V | cut -d' ' -f2) ($threads threads), libmemcached $(dpkg-query -W -f='${Version}' libmemcached-dev 2>/dev/null || echo '?'), $(rustc --version | cut -d' ' -f1-2), Tcl $(echo 'puts [info patchlevel]' | tclsh)${tclsh9:+ and $(echo 'puts [info patchlevel]' | "$tclsh9")}"
    echo "$passes passes x $reps rounds x ${secs}s trials; $(date -u +%Y-%m-%d)"
    echo
    tclsh "$root/bench/bench.tcl" report "$raw" "$sys" "$out/results.csv"
    if [ -n "$py" ]; then
        echo
        "$py" "$root/bench/bench.py" report "$raw" "$ins"
    fi
} | tee "$out/report.txt"
say "$(($(date +%s) - start_time)) s; table in target/bench/report.txt, CSV in target/bench/results.csv, chart in target/bench/chart.svg"
