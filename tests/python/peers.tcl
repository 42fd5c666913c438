# The Tcl side of tests/python_interop.rs's peer test: reads what pylibmc,
# pymemcache and python-memcached stored (tests/python/peers.py store), compressed and not,
# then stores compressed text and bytes for them to read.
#
#   tclsh peers.tcl SERVER
#
# Loads $env(MEMCACHE_LIBRARY). ASCII only: other characters are \u
# escapes (U+1F600 is the surrogate pair \ud83d\ude00 in Tcl 8.6).

load $env(MEMCACHE_LIBRARY) Memcache
source [file join [file dirname [file dirname [file normalize [info script]]]] checks.tcl]
lassign $argv server
set h [memcache create -compress 100 $server]

set smile [expr {[package vsatisfies [info patchlevel] 9] ? "\U1F600" : "\ud83d\ude00"}]
set text [string repeat "caf\u00e9 $smile " 300]
set numbers {}
for {set i 0} {$i < 256 * 20} {incr i} {lappend numbers [expr {$i % 256}]}
set bytes [binary format c* $numbers]

foreach who {lm pm py} {
    check "$who:text" [memcache get $h $who:text] "short \u00e9"
    check "type of $who:text" [type [memcache get $h $who:text]] text
    check "$who:bytes" [memcache get $h $who:bytes] [binary format H* 00ff]\x20short
    check "type of $who:bytes" [type [memcache get $h $who:bytes]] bytes
    check "$who:ztext" [string equal [memcache get $h $who:ztext] $text] 1
    check "type of $who:ztext" [type [memcache get $h $who:ztext]] text
    check "$who:zbytes" [string equal [memcache get $h $who:zbytes] $bytes] 1
    check "type of $who:zbytes" [type [memcache get $h $who:zbytes]] bytes
    check "$who: mget" [string equal [dict get [memcache mget $h [list $who:ztext]] $who:ztext] $text] 1
}
memcache put $h tcl:ztext $text 0
memcache put $h tcl:zbytes $bytes 0
check "tcl:ztext flags" [memcache flags $h tcl:ztext] 24
check "tcl:zbytes flags" [memcache flags $h tcl:zbytes] 8
finish
