# Every subcommand of the memcache ensemble through twemproxy (run by
# tests/proxy.rs): each works, or fails with the error README and the man
# page give for a proxy ("PROXIES AND OLDER SERVERS"), and the command
# after a failure is answered right.
#
#   tclsh subcommands.tcl PROXY
#
# Loads $env(MEMCACHE_LIBRARY). Prints one line per failed check, then
# "ok N checks"; exits 1 on a failure.

load $env(MEMCACHE_LIBRARY) Memcache
source [file join [file dirname [file dirname [file normalize [info script]]]] checks.tcl]
lassign $argv proxy

# {errorCode message} of a script that fails, {OK result} of one that does not.
proc try_ {script} {
    if {[catch {uplevel 1 $script} message options]} {
        return [list [dict get $options -errorcode] $message]
    }
    return [list OK $message]
}
set closed [list {MEMCACHE IO} "$proxy: connection closed by the server before it replied"]
# After a command the proxy does not forward: the next one is answered right.
proc next_is_right {after} {
    check "get after $after" [memcache get $::h pk] "value"
}

set h [memcache create -retry 0 $proxy]
check put [memcache put $h pk value 0] pk
set auto [memcache put $h auto-data]
check "put without a key" [string length $auto] 32
check "get auto" [memcache get $h $auto] auto-data
check append [memcache append $h pa one 0] pa
memcache append $h pa -two
check "get after append" [memcache get $h pa] one-two
check "get listindex" [memcache get $h pa 0] one-two
check add [try_ {memcache add $h pk other}] [list {MEMCACHE NOTSTORED} {not stored: key "pk" already has data}]
next_is_right add
check replace [memcache replace $h pa replaced] pa
check prepend [memcache prepend $h pa >] pa
check "get after prepend" [memcache get $h pa] >replaced
lassign [memcache gets $h pa] data casid
check gets $data >replaced
check cas [memcache cas $h pa swapped $casid] pa
check "cas again" [lindex [try_ {memcache cas $h pa again $casid}] 0] {MEMCACHE EXISTS}
next_is_right cas
check "put n" [memcache put $h n 41 0] n
check incr [memcache incr $h n] 42
check decr [memcache decr $h n 2] 40
check touch [memcache touch $h pk 100] {}
check "remove later" [memcache remove $h pk 100] {}
next_is_right "remove later"
# Questions: answered with classic commands.
check valid [memcache valid $h pk] 1
check "valid none" [memcache valid $h none] 0
check flags [memcache flags $h pk] 16
check ttl [try_ {memcache ttl $h pk}] [list {MEMCACHE CLIENT} "$proxy: cannot tell the time to live of key \"pk\": the server has no meta commands (memcached before 1.6, or a proxy such as twemproxy)"]
next_is_right ttl
set d {}
for {set i 0} {$i < 30} {incr i} {dict set d m$i "v $i"}
check mput [memcache mput $h $d] {}
check mget [memcache mget $h [dict keys $d]] $d
check mremove [memcache mremove $h [dict keys $d]] 30
check "mget after mremove" [memcache mget $h [dict keys $d]] {}
check remove [memcache remove $h pa] {}
check "remove none" [try_ {memcache remove $h pa}] [list {MEMCACHE NOTFOUND} {no data for key "pa"}]
check update [memcache update $h cart cart {append cart " apple"}] " apple"
set token [memcache lock -ttl 30 $h report]
check lock [string length $token] 32
check "lock held" [lindex [try_ {memcache lock -wait 0 $h report}] 0] {MEMCACHE CONFLICT}
next_is_right "a lock held"
check unlock [try_ {memcache unlock $h report $token}] $closed
next_is_right unlock
check fetch [try_ {memcache fetch $h f 60 {string cooked}}] $closed
next_is_right fetch
check invalidate [try_ {memcache invalidate $h pk}] $closed
next_is_right invalidate
check stats [try_ {memcache stats $h}] $closed
next_is_right stats
check flush [try_ {memcache flush $h}] $closed
next_is_right flush
check status [try_ {memcache status $h}] $closed
next_is_right status
check version [dict keys [memcache version $h]] [list $proxy]
check servers [memcache servers $h] [list $proxy]
check serverof [memcache serverof $h pk] $proxy
check forgetdead [memcache forgetdead $h] {}
check setservers [memcache setservers $h $proxy] {}
next_is_right setservers
check start [memcache start $h] -1
check stop [try_ {memcache stop $h}] {OK 0}
next_is_right stop
check configure [memcache configure $h -retry] 0
check list [expr {$h in [memcache list]}] 1
check delete [memcache delete $h] 1
finish
