#!/usr/bin/env tclsh
# cart.tcl: a CGI program (one tclsh process per request, started by the
# web server) that adds an item to a user's cart and shows the cart:
#
#   GET /cart.tcl?user=alice&item=apple
#
# Two requests of one user at the same time both land: `memcache update`
# reads the cart with its CAS value, and stores the new one only if no
# other request changed it meanwhile, else reads and adds again.
#
# The cart lives in the memcached serving the socket file $CART_SOCKET
# (default ./cart.sock), started by the first request of all.

package require memcache

proc urldecode {text} {
    set text [string map {+ { }} $text]
    return [subst -novariables -nocommands \
        [regsub -all {%([0-9a-fA-F]{2})} [string map {\\ \\\\ [ \\[} $text] {\\u00\1}]]
}

set query {}
if {[info exists env(QUERY_STRING)]} {
    foreach pair [split $env(QUERY_STRING) &] {
        lassign [split $pair =] name value
        dict set query [urldecode $name] [urldecode $value]
    }
}
set socket [expr {[info exists env(CART_SOCKET)] ? $env(CART_SOCKET) : "./cart.sock"}]

puts -nonewline "Content-Type: text/plain; charset=utf-8\r\n\r\n"
if {![dict exists $query user] || ![dict exists $query item]} {
    puts "usage: cart.tcl?user=NAME&item=ITEM"
    exit 0
}
set mc [memcache create $socket]
set cart [memcache update $mc cart:[dict get $query user] items {
    lappend items [dict get $query item]
} 3600]
puts "[dict get $query user]: [llength $cart] items: $cart"
