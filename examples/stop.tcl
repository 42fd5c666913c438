# stop.tcl: stops the memcached serving a socket file, as an administrator
# (or a cron job, or the last step of a test) would:
#
#   tclsh stop.tcl ?SOCKET?        (default ./demo.sock, or $DEMO_SOCKET)
#
# memcache stop returns 1 if it stopped the daemon, -1 if none was running
# (and 0 if it could not stop one). All the daemon's data is gone with it.
# The handle stays valid: memcache start would start a new, empty daemon.
#
# Prints what happened; the last line is "pid N", the pid of the daemon
# that was stopped (0 if none), for the caller to check.

package require memcache

set socket [lindex [concat $argv [expr {[info exists env(DEMO_SOCKET)]
    ? $env(DEMO_SOCKET) : "./demo.sock"}]] 0]

# -autostart 0: a handle made only to stop a daemon must not start one
# (without it, creating a handle on a socket file no daemon serves starts
# one, only for this script to stop it).
set mc [memcache create -autostart 0 $socket]
if {[catch {memcache status $mc} status]} {
    set pid 0
} else {
    set pid [dict get $status pid]
    puts "stop: memcached pid $pid on $socket has [dict get $status curr_items]\
        items, [dict get $status total_connections] connections so far"
}
set result [memcache stop $mc]
puts "stop: memcache stop returned $result\
    ([dict get {1 {stopped} 0 {could not stop it} -1 {none was running}} $result])"
if {[catch {memcache status $mc} message opts]} {
    puts "stop: memcache status now fails: $message ([dict get $opts -errorcode])"
}
memcache delete $mc
puts "pid $pid"
exit [expr {$result == 0}]
