# session.tcl: one request to a small CGI-style shop. Each request is a
# separate, short-lived tclsh process, as a CGI program is; what the shop
# must remember between requests (a visit counter and a cart per session)
# lives in memcached, under the session id.
#
#   tclsh session.tcl SESSION ACTION ?ITEM?
#   QUERY_STRING='session=alice&action=add&item=apple' tclsh session.tcl
#
# ACTION is one of
#   view       count a visit and show the cart
#   add ITEM   put ITEM in the cart
#   checkout   empty the cart
#
# `memcache create ./demo.sock` connects to the memcached serving the socket
# file ./demo.sock (DEMO_SOCKET overrides the name) and, if none serves it
# yet, starts one first: the first request of all starts the daemon, every
# later one finds it running. The daemon is detached, so it outlives the
# request that started it. Only the user who started it can use the socket.
#
# Prints one line: what this request did and saw.

package require memcache

# The request's parameters, from argv or, like a CGI program, from
# QUERY_STRING (name=value&...).
proc request {argv} {
    if {[llength $argv] > 0} {
        lassign $argv session action item
        return [dict create session $session action $action item $item]
    }
    set query [dict create session "" action "" item ""]
    if {[info exists ::env(QUERY_STRING)]} {
        foreach pair [split $::env(QUERY_STRING) &] {
            set at [string first = $pair]
            if {$at < 0} continue
            dict set query [urldecode [string range $pair 0 $at-1]] \
                [urldecode [string range $pair $at+1 end]]
        }
    }
    return $query
}

# Undoes URL encoding: + is a space, %XX a byte of UTF-8.
proc urldecode {text} {
    set bytes ""
    foreach part [regexp -all -inline -- {%[0-9A-Fa-f]{2}|[^%]+|%} \
            [string map {+ " "} $text]] {
        if {[string length $part] == 3 && [string index $part 0] eq "%"} {
            append bytes [binary format H2 [string range $part 1 end]]
        } else {
            append bytes [encoding convertto utf-8 $part]
        }
    }
    return [encoding convertfrom utf-8 $bytes]
}

proc fail {message} {
    puts stderr "session.tcl: $message"
    exit 2
}

set query [request $argv]
dict with query {}
# A session id becomes part of a key: keep it to safe characters.
if {![regexp {^[A-Za-z0-9_-]{1,64}$} $session]} {
    fail "bad session id \"$session\" (1 to 64 letters, digits, _ or -)"
}
if {$action ni {view add checkout}} {
    fail "bad action \"$action\": must be view, add or checkout"
}
if {$action eq "add" && $item eq ""} {
    fail "add: which item?"
}

set socket [expr {[info exists env(DEMO_SOCKET)] ? $env(DEMO_SOCKET) : "./demo.sock"}]

# Sessions last 30 minutes after their last change; every key of the shop
# starts with "shop:", so other applications can share the daemon.
set mc [memcache create -ttl 1800 -prefix shop: $socket]

# A counter that may not exist yet: add stores only if the key has no data
# (atomic, so two first requests at once cannot both start at 0).
proc bump {mc key} {
    try {
        memcache add $mc $key 0
    } trap {MEMCACHE NOTSTORED} {} {
        # it exists: fine
    }
    return [memcache incr $mc $key]
}

set request [bump $mc requests]
set cartKey $session:cart
switch -- $action {
    view {
        set visit [bump $mc $session:visits]
        set did "$session views the shop (visit $visit)"
    }
    add {
        # append creates the cart on the first item, and appends from
        # requests running at the same moment all land.
        memcache append $mc $cartKey "$item\n"
        set did "$session adds $item"
    }
    checkout {
        set n 0
        try {
            set n [llength [split [string trimright [memcache get $mc $cartKey] \n] \n]]
            memcache remove $mc $cartKey
        } trap {MEMCACHE NOTFOUND} {} {}
        set did "$session checks out $n item[expr {$n == 1 ? "" : "s"}]"
    }
}
set cart [expr {[memcache valid $mc $cartKey]
    ? [join [split [string trimright [memcache get $mc $cartKey] \n] \n] ", "]
    : "empty"}]

# Which memcached served this request, and was it new? The first request a
# new daemon serves finds no "daemon" key on it.
set pid [dict get [memcache status $mc] pid]
try {
    memcache add $mc daemon [pid]
    set new 1
} trap {MEMCACHE NOTSTORED} {} {
    set new 0
}
set note [expr {$new ? "No daemon was running: started memcached pid $pid"
    : "memcached pid $pid was running"}]

puts "request $request (tclsh pid [pid]): $did; cart: $cart. $note."
