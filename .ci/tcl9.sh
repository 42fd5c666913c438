#!/usr/bin/env bash
# Installs Tcl 9.0 beside the system's Tcl 8.6 on Debian 12, which has no
# Tcl 9 package: Debian 13's tcl9.0 and tcl9.0-thread packages, unpacked
# into $TCL9_ROOT (default /opt/tcl9) with the libc they were built for, and
# a `tclsh9.0` wrapper in $TCL9_BIN (default /usr/local/bin) that runs them
# with their own loader (the system's libc is never replaced). The wrapper
# sets what tcltest and the Thread package need. Does nothing when a
# tclsh9.0 already runs. The apt state it uses is private (a temporary
# directory); the system's apt setup is not touched.
set -euo pipefail
ROOT=${TCL9_ROOT:-/opt/tcl9}
BIN=${TCL9_BIN:-/usr/local/bin}

if echo 'exit [expr {![package vsatisfies [info patchlevel] 9-]}]' | tclsh9.0 2>/dev/null; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/trixie.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
apt=(-o "Dir::Etc::sourcelist=$work/trixie.sources" -o Dir::Etc::sourceparts=/dev/null
     -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
apt-get "${apt[@]}" -qq update
(cd "$work" && apt-get "${apt[@]}" -qq download \
    tcl9.0 libtcl9.0 tcl9.0-dev tcl9.0-thread libc6 libtommath1)
mkdir -p "$ROOT"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done

mkdir -p "$BIN"
cat >"$BIN/tclsh9.0" <<WRAP
#!/bin/sh
# tclsh 9.0 from Debian 13, run with its own loader and libc (made by .ci/tcl9.sh).
R=$ROOT
export TCL9_0_TM_PATH="\$R/usr/lib/tcl9.0/tcl9"
export TCLLIBPATH="\${TCLLIBPATH-} \$R/usr/lib/tcltk/x86_64-linux-gnu"
exec "\$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \\
    --library-path "\$R/usr/lib/x86_64-linux-gnu" "\$R/usr/bin/tclsh9.0" "\$@"
WRAP
chmod 755 "$BIN/tclsh9.0"
echo 'puts "installed: Tcl [info patchlevel], Thread [package require Thread]"' | "$BIN/tclsh9.0"
