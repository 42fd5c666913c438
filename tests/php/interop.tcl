# The Tcl side of tests/php.rs: with -valueformat php, reads what PHP's
# Memcached extension stored (tests/php/interop.php store), then stores
# what PHP checks. ASCII only: other characters are \u escapes.
#
#   tclsh interop.tcl SERVER
#
# Loads $env(MEMCACHE_LIBRARY). Prints one line per failed check, then
# "ok N checks"; exits 1 on a failure.

load $env(MEMCACHE_LIBRARY) Memcache
lassign $argv server
set h [memcache create -valueformat php -compress 1000 $server]
set raw [memcache create -valueformat raw $server]

source [file join [file dirname [file dirname [file normalize [info script]]]] checks.tcl]

# PHP's strings, numbers and booleans read as text; its serialized array
# as bytes, as stored.
check text [memcache get $h php:text] "h\u00e9llo w\u00f6rld \u2713"
check "text is a string" [type [memcache get $h php:text]] text
check int [memcache get $h php:int] 42
check "int flags" [memcache flags $h php:int] 1
check float [memcache get $h php:float] 1.5
check true [memcache get $h php:true] 1
check false [memcache get $h php:false] ""
check array [memcache get $h php:array] {a:2:{i:0;i:1;i:1;i:2;}}
check "array is bytes" [type [memcache get $h php:array]] bytes
# zlib-compressed by PHP: decompressed; the raw handle sees flags 16 + 32
# and the 4-byte length first.
check zlib [memcache get $h php:zlib] [string repeat "zlib \u00e9t\u00e9 " 500]
check "zlib flags" [memcache flags $raw php:zlib] 48
binary scan [memcache get $raw php:zlib] iu length
check "zlib length" $length [string length [encoding convertto utf-8 \
    [string repeat "zlib \u00e9t\u00e9 " 500]]]
check "mget zlib" [dict get [memcache mget $h {php:zlib php:int}] php:zlib] \
    [string repeat "zlib \u00e9t\u00e9 " 500]
# fastlz: refused, naming the flag and what to do.
set code [catch {memcache get $h php:fastlz} message options]
check "fastlz code" [list $code [dict get $options -errorcode]] {1 {MEMCACHE PROTOCOL}}
check "fastlz message" [string match "*fastlz (PHP's flags 16 + 64)*memcached.compression_type=zlib*" \
    $message] 1

# What PHP reads: text as a PHP string (flags 0), a long one compressed
# with zlib (flags 48), bytes as a string of those bytes.
memcache put $h tcl:text "Gr\u00fc\u00dfe \u2713" 0
check "tcl text flags" [memcache flags $raw tcl:text] 0
memcache put $h tcl:big [string repeat "gro\u00df " 1000] 0
check "tcl big flags" [memcache flags $raw tcl:big] 48
memcache put $h tcl:bytes [binary format H* 00ff8020] 0
memcache append $h tcl:bytes binary
memcache put $h tcl:number 12345 0

finish
