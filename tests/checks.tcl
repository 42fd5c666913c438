# The checks of the Tcl sides of the interoperability tests
# (tests/python/interop.tcl, tests/php/interop.tcl): `check` counts and
# keeps failures, `finish` prints them and then "ok N checks" (what
# tests/support's expect_ok reads), and exits 1 on a failure.

set failures {}
set checks 0
proc check {what got want} {
    incr ::checks
    if {$got ne $want} {
        lappend ::failures "$what: got \"$got\", want \"$want\""
    }
}

# "bytes" for a pure byte array (a binary read), else "text".
proc type {value} {
    expr {[string match "value is a bytearray*" \
        [tcl::unsupported::representation $value]] ? "bytes" : "text"}
}

proc finish {} {
    foreach line $::failures {puts $line}
    if {[llength $::failures]} {
        puts "[llength $::failures] of $::checks checks failed"
        exit 1
    }
    puts "ok $::checks checks"
    exit 0
}
