# Shared set-up of the memcache Tcl tests, sourced by every *.test file
# (and by all.tcl). Not a test file itself: runAllTests only runs *.test.
#
# The servers come from environment variables set by the runner
# (tests/tcl.rs), each a server spec as `memcache create` takes it:
#   MEMCACHE_TCP    a memcached on a loopback TCP port
#   MEMCACHE_UNIX   a memcached on a Unix socket (an absolute path)
#   MEMCACHE_SMALL  a memcached started with -I 1m (item size limit 1 MiB)
#   MEMCACHE_TCP2, MEMCACHE_TCP3  two more, for the three-server tests
#   MEMCACHE_NOCONNECT  a loopback listener whose accept queue is full, so
#                   that connecting to it times out
# The library: MEMCACHE_LIBRARY, the exact libmemcache.so to load (the
# runner passes the one cargo just built); without it, package require.
# MEMCACHE_TCLSH: the command that starts a child tclsh of the same Tcl
# (Tcl 9 here runs through a wrapper script, so [info nameofexecutable]
# alone cannot start it); without it, [info nameofexecutable].

package require tcltest 2.5
namespace import -force ::tcltest::*

namespace eval ::mctest {
    namespace export err elapsed reptype hasString allBytes hex tohex stored utf8hex freePort waitFor
    variable here [file dirname [file normalize [info script]]]
    variable crate [file dirname [file dirname $here]]
    # U+1F600 as a Tcl string: Tcl 8.6 keeps a character above U+FFFF as a
    # surrogate pair, Tcl 9 as one character (where "\ud83d\ude00" is two).
    variable smile [expr {[package vsatisfies [info tclversion] 9-]
        ? "\U0001F600" : "\ud83d\ude00"}]
    variable tclsh [expr {[info exists ::env(MEMCACHE_TCLSH)] && $::env(MEMCACHE_TCLSH) ne ""
        ? $::env(MEMCACHE_TCLSH) : [info nameofexecutable]}]

    # The script that loads the extension into an interpreter: the same in
    # this one, in a child interpreter, in a thread and in a child process.
    proc loadScript {} {
        variable crate
        if {[info exists ::env(MEMCACHE_LIBRARY)] && $::env(MEMCACHE_LIBRARY) ne ""} {
            set lib [file normalize $::env(MEMCACHE_LIBRARY)]
            set tcl [file join $crate tcl memcache.tcl]
            return [string map [list @LIB@ [list $lib] @TCL@ [list $tcl]] {
                if {[namespace which -command ::memcache] eq ""} {
                    load @LIB@ Memcache
                    if {[file isfile @TCL@]} {source @TCL@}
                }
            }]
        }
        return {package require memcache}
    }

    # The server spec of environment variable MEMCACHE_<name>.
    proc server {name} {
        set var MEMCACHE_$name
        if {![info exists ::env($var)] || $::env($var) eq ""} {
            return -code error "environment variable $var is not set:\
                run the Tcl tests with `cargo test --test tcl` (tests/tcl.rs\
                starts the memcached servers and sets it)"
        }
        return $::env($var)
    }

    # The port of a "127.0.0.1:PORT" spec.
    proc port {spec} {
        return [lindex [split $spec :] end]
    }

    # Runs script in the caller's frame and returns {errorCode message}
    # if it fails, {OK result} if it does not.
    proc err {script} {
        if {[catch {uplevel 1 $script} msg opts]} {
            return [list [dict get $opts -errorcode] $msg]
        }
        return [list OK $msg]
    }

    # Runs script in the caller's frame; returns the milliseconds it took.
    proc elapsed {script} {
        set t0 [clock milliseconds]
        uplevel 1 $script
        return [expr {[clock milliseconds] - $t0}]
    }

    # The type of a value's internal representation ("bytearray", "list",
    # "pure string" ...) as tcl::unsupported::representation reports it.
    proc reptype {value} {
        set rep [tcl::unsupported::representation $value]
        regexp {^value is an? (.*?) with a refcount} $rep -> type
        return $type
    }

    # Does the value have a string representation?
    proc hasString {value} {
        return [expr {![string match "*no string representation*" \
                [tcl::unsupported::representation $value]]}]
    }

    # The bytes 0..255 (or a range) as a pure bytearray.
    proc allBytes {{from 0} {to 255}} {
        set codes {}
        for {set i $from} {$i <= $to} {incr i} {lappend codes $i}
        return [binary format c* $codes]
    }

    # A pure bytearray from hex digits.
    proc hex {digits} {
        return [binary format H* $digits]
    }

    # The hex digits of a value's bytes: of a bytearray as is, of text as
    # its UTF-8.
    proc tohex {value} {
        if {[reptype $value] ne "bytearray"} {
            set value [encoding convertto utf-8 $value]
        }
        binary scan $value H* h
        return $h
    }

    # Talks to a TCP memcached directly (no client library): sends a
    # request and reads the reply up to a line that is exactly `until`.
    proc raw {spec request {until END}} {
        lassign [split $spec :] host port
        set s [socket $host $port]
        fconfigure $s -translation binary -buffering none
        try {
            puts -nonewline $s $request
            set reply ""
            while {1} {
                set line [gets $s]
                if {[eof $s]} {break}
                append reply $line \n
                if {[string trimright $line \r] eq $until} {break}
                if {[regexp {^VALUE \S+ \d+ (\d+)} $line -> n]} {
                    append reply [read $s [expr {$n + 2}]]
                }
            }
            return $reply
        } finally {
            close $s
        }
    }

    # What the server holds under key: {flags hexbytes}, or {} if nothing;
    # read with a raw "get", so it shows the exact bytes stored.
    proc stored {spec key} {
        lassign [split $spec :] host port
        set s [socket $host $port]
        fconfigure $s -translation binary -buffering none
        try {
            puts -nonewline $s "get $key\r\n"
            set line [string trimright [gets $s] \r]
            if {$line eq "END"} {return {}}
            if {![regexp {^VALUE \S+ (\d+) (\d+)$} $line -> flags n]} {
                return -code error "unexpected reply \"$line\""
            }
            set data [read $s $n]
            read $s 2
            set end [string trimright [gets $s] \r]
            if {$end ne "END"} {return -code error "unexpected reply \"$end\""}
            binary scan $data H* h
            return [list $flags $h]
        } finally {
            close $s
        }
    }

    # A loopback TCP port nothing listens on right now.
    proc freePort {} {
        set s [socket -server {apply {{c a p} {close $c}}} -myaddr 127.0.0.1 0]
        set port [lindex [fconfigure $s -sockname] 2]
        close $s
        return $port
    }

    # Calls script every 50 ms until it returns true, for at most ms
    # milliseconds; returns how long it took, or -1 on a timeout.
    proc waitFor {ms script} {
        set t0 [clock milliseconds]
        while {1} {
            if {[uplevel 1 $script]} {
                return [expr {[clock milliseconds] - $t0}]
            }
            if {[clock milliseconds] - $t0 > $ms} {return -1}
            after 50
        }
    }

    # The version of the memcached program (memcached -V: "memcached X").
    proc memcachedVersion {} {
        set program [expr {[info exists ::env(MEMCACHED)] && $::env(MEMCACHED) ne ""
            ? $::env(MEMCACHED) : "memcached"}]
        return [lindex [exec $program -V] 1]
    }

    # The server's UTF-8 for a string, as hex (for comparing with stored).
    proc utf8hex {string} {
        binary scan [encoding convertto utf-8 $string] H* h
        return $h
    }
}

eval [::mctest::loadScript]

::tcltest::testConstraint thread [expr {![catch {package require Thread 2.8-}]}]
