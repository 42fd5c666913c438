# Runs every *.test file of this directory with tcltest, in this process,
# and exits 1 when a test failed or a test file could not be run to its
# end, 0 otherwise (runAllTests alone always exits 0).
#
#   MEMCACHE_TCP=... MEMCACHE_LIBRARY=target/debug/deps/libmemcache.so \
#       tclsh tests/tcl/all.tcl ?tcltest options, e.g. -file data.test -verbose bpe?
#
# `cargo test --test tcl` (tests/tcl.rs) starts the servers, sets the
# variables (see common.tcl) and runs this.

set dir [file dirname [file normalize [info script]]]
source [file join $dir common.tcl]

::tcltest::configure -testdir $dir -singleproc 1 -tmpdir [file join \
    [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR) : "/tmp"}] \
    memcache-tcltest-[pid]] {*}$argv
file mkdir [::tcltest::temporaryDirectory]

# The totals: cleanupTests resets numTests when it prints the summary, so
# they are taken in its hook, which runs just before.
set ::mctest::totals {}
proc ::tcltest::cleanupTestsHook {} {
    set ::mctest::totals [array get ::tcltest::numTests]
}

# A test file that fails outside of any test (an error in its set-up) is
# reported by runAllTests but not counted: count it here.
set ::mctest::fileErrors {}
rename ::source ::mctest::source
proc ::source {args} {
    set code [catch {uplevel 1 [list ::mctest::source {*}$args]} result opts]
    if {$code == 1 && [string match *.test [lindex $args end]]} {
        lappend ::mctest::fileErrors [file tail [lindex $args end]] $result
    }
    return -options $opts $result
}

::tcltest::runAllTests

rename ::source {}
rename ::mctest::source ::source
file delete -force [::tcltest::temporaryDirectory]

set failed [dict get $::mctest::totals Failed]
set passed [dict get $::mctest::totals Passed]
puts "all.tcl: Tcl [info patchlevel]: $passed passed,\
    [dict get $::mctest::totals Skipped] skipped, $failed failed"
foreach {file message} $::mctest::fileErrors {
    puts "error in test file $file: $message"
}
if {$failed > 0 || [llength $::mctest::fileErrors] > 0 || $passed == 0} {
    puts "FAILED: $failed failed tests, [expr {[llength $::mctest::fileErrors] / 2}] test file errors, $passed passed"
    exit 1
}
exit 0
