# The Tcl side of tests/python_interop.rs: checks what python-memcached
# stored (tests/python/interop.py store), then stores what it checks.
#
#   tclsh interop.tcl SERVER S1 S2 S3
#
# Loads $env(MEMCACHE_LIBRARY) if set, else package require memcache.
# Prints one line per failed check, then "ok N checks"; exits 1 on a failure.
# (ASCII only: non-ASCII characters are \u escapes; U+1F600 is the
# surrogate pair \ud83d\ude00 in Tcl 8.6.)

if {[info exists env(MEMCACHE_LIBRARY)] && $env(MEMCACHE_LIBRARY) ne ""} {
    load $env(MEMCACHE_LIBRARY) Memcache
} else {
    package require memcache
}

lassign $argv server s1 s2 s3
set three [list $s1 $s2 $s3]
set one [memcache create $server]
# python-memcached's distribution (the default, ketama, is libmemcached's).
set multi [memcache create -distribution modula {*}$three]
set singles [lmap s $three {memcache create $s}]

source [file join [file dirname [file dirname [file normalize [info script]]]] checks.tcl]
proc hex {value} {
    binary scan $value H* h
    return $h
}
proc pick {key n} {
    set crc [expr {[zlib crc32 [encoding convertto utf-8 $key]] & 0xffffffff}]
    expr {(($crc >> 16) & 0x7fff) % $n}
}

# ---- what python-memcached stored

set s [memcache get $one s]
check "type of s" [type $s] text
check "s" $s "text \u00e9 \ud83d\ude00"
check "flags of s" [memcache flags $one s] 16

set b [memcache get $one b]
check "type of b" [type $b] bytes
check "bytes of b" [hex $b] 00ff0d0a454e440d0a
check "flags of b" [memcache flags $one b] 0

set i [memcache get $one i]
check "i" $i 42
check "type of i" [type $i] bytes
check "flags of i" [memcache flags $one i] 2
check "incr of i" [memcache incr $one i] 43

check "e" [memcache get $one e] ""
check "flags of e" [memcache flags $one e] 16

# Compressed by python-memcached: zlib with flag 8 (24 for text).
set z [memcache get $one z]
check "type of z" [type $z] text
check "z" $z [string repeat "compressed \u00e9 " 200]
check "flags of z" [memcache flags $one z] 24
set zb [memcache get $one zb]
check "type of zb" [type $zb] bytes
check "bytes of zb" [hex $zb] [string repeat 0001 1000]
check "flags of zb" [memcache flags $one zb] 8

set keys {}
for {set n 0} {$n < 100} {incr n} {lappend keys py-key-$n}
lappend keys "py-\u00e9\u20ac"
foreach key $keys {
    check "get $key" [memcache get $multi $key] "py value $key"
}
set got [memcache mget $multi $keys]
check "mget of the Python keys" [dict size $got] [llength $keys]
foreach key $keys {
    check "mget $key" [dict get $got $key] "py value $key"
}

# ---- what python-memcached checks

memcache put $one ts "tcl text \u00e9 \ud83d\ude00 \u0000 end"
memcache put $one tb [binary format c* [lsearch -all [lrepeat 256 x] x]]
# python-memcached's integer flag is 2; the data is the decimal digits.
memcache put $one tn [binary format a* 17] 0 2
memcache put $one tl [list a {b c} d]
set packing [memcache create -compress 100 $server]
memcache put $packing tz [string repeat "tcl compressed \u00e9 " 100]
set tclKeys {}
for {set n 0} {$n < 100} {incr n} {lappend tclKeys tcl-key-$n}
lappend tclKeys "tcl-\u00e9\u20ac"
foreach key $tclKeys {
    memcache put $multi $key "tcl value $key"
}
foreach key $tclKeys {
    set at {}
    set n 0
    foreach single $singles {
        if {[memcache valid $single $key]} {lappend at $n}
        incr n
    }
    check "server of $key" $at [pick $key 3]
}

finish
