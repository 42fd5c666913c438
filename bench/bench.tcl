# bench.tcl: the Tcl side of `make bench`, and its report.
#
#   tclsh bench.tcl run --tcp HOST:PORT --unix PATH --reps N --time SECONDS \
#                       --pass N --out RAW.csv ?--workloads get,set,...?
#       Times the `memcache` ensemble and a pure-Tcl socket client (below:
#       what a Tcl user writes without an extension) in alternation, and
#       appends one CSV row per trial to RAW.csv, as bench.c does:
#       lang,client,workload,transport,pass,rep,ops,wall_s,cpu_s
#       Tcl 8.6 sockets are TCP only, so the pure-Tcl client has no Unix
#       socket rows.
#
#   tclsh bench.tcl report RAW.csv SYSCALLS.csv RESULTS.csv
#       Reads every trial (C and Tcl), the system call counts and, if
#       instructions.csv is beside SYSCALLS.csv, the instruction counts;
#       prints the tables and the targets, and writes RESULTS.csv.
#
#   tclsh bench.tcl count HOST:PORT CLIENT WORKLOAD N
#       N operations of one client, for counting under callgrind.
#
# CPU time is the process's own: se.sum_exec_runtime of /proc/self/sched
# (nanoseconds) where the kernel has it, else utime + stime of
# /proc/self/stat (clock ticks, 10 ms: coarse, so trials add up).

package require Tcl 8.6-

namespace eval bench {
    variable dir [file dirname [file normalize [info script]]]
    variable small [string repeat v 100]
    # A pure bytearray: binary data, sent as its bytes.
    variable big [binary format a[expr {512 * 1024}] [string repeat abcdefghijklmnopqrstuvwxyz 20165]]
    # 512 KiB of text (32 bytes of UTF-8 a line, one of them non-ASCII),
    # stored as text and read back as a string.
    variable bigtext [string repeat "abcdefghijklmnopqrstuvwxyz 12\u00e9\n" 16384]
    variable keys {}
    for {set i 0} {$i < 100} {incr i} {lappend keys bench:m$i}
    variable mdict {}
    foreach k $keys {lappend mdict $k $small}
    variable workloads {get set mget100 mset100 get512k set512k text512k}
    # The rows' language: Tcl 8.6 ("tcl") or Tcl 9 ("tcl9").
    variable lang [expr {[package vsatisfies [info tclversion] 9-] ? "tcl9" : "tcl"}]
}

# ----- the pure-Tcl client -----

namespace eval ptcl {
    proc connect {host port} {
        set s [socket $host $port]
        fconfigure $s -translation binary -buffering full -buffersize 1048576
        return $s
    }

    proc get {s key} {
        puts -nonewline $s "get $key\r\n"
        flush $s
        set line [gets $s]
        if {$line eq "END\r"} {
            return -code error "no data for key \"$key\""
        }
        # "VALUE <key> <flags> <bytes>\r": \r is list white space
        set data [read $s [lindex $line 3]]
        read $s 2
        gets $s
        return $data
    }

    proc store {s key value} {
        puts -nonewline $s "set $key 0 0 [string length $value]\r\n"
        puts -nonewline $s $value
        puts -nonewline $s "\r\n"
        flush $s
        if {[gets $s] ne "STORED\r"} {
            return -code error "not stored: $key"
        }
        return $key
    }

    proc mget {s keys} {
        puts -nonewline $s "get [join $keys]\r\n"
        flush $s
        set out {}
        while {[set line [gets $s]] ne "END\r"} {
            lassign $line - key - bytes
            dict set out $key [read $s $bytes]
            read $s 2
        }
        return $out
    }

    proc mstore {s pairs} {
        foreach {key value} $pairs {
            puts -nonewline $s "set $key 0 0 [string length $value]\r\n$value\r\n"
        }
        flush $s
        set failed {}
        foreach {key value} $pairs {
            if {[gets $s] ne "STORED\r"} {lappend failed $key}
        }
        return $failed
    }
}

# Loads the extension: the library $env(MEMCACHE_LIB) when set (run.sh
# sets the release build: the package index would take the newest of the
# release and debug builds), else the package from the source tree.
proc bench::load_memcache {} {
    if {[info exists ::env(MEMCACHE_LIB)] && $::env(MEMCACHE_LIB) ne ""} {
        load $::env(MEMCACHE_LIB) Memcache
        return
    }
    set dir [file dirname [file dirname [file normalize [info script]]]]
    set ::auto_path [linsert $::auto_path 0 [file join $dir tcl]]
    package require memcache
}

# ----- timing -----

proc bench::cpu {} {
    if {[file readable /proc/self/sched]} {
        set f [open /proc/self/sched]
        set text [read $f]
        close $f
        if {[regexp {se\.sum_exec_runtime\s+:\s+([0-9.]+)} $text -> ms]} {
            return [expr {$ms / 1000.0}]
        }
    }
    set f [open /proc/self/stat]
    set stat [read $f]
    close $f
    # the fields after the ")" that ends the command name
    set fields [string range $stat [expr {[string last ")" $stat] + 2}] end]
    return [expr {([lindex $fields 11] + [lindex $fields 12]) / 100.0}]
}

# The command of one operation: client, workload -> script. It uses local
# variables (c, the handle or the socket; small, big, keys, mdict) that
# the loop sets from ::bench's before it starts ([locals]): a namespace
# variable read in the loop would cost each operation a qualified name
# lookup (about 1,000 instructions in Tcl 8.6), which is the harness's work,
# not the client's.
proc bench::op {client workload} {
    set c {$c}
    if {$client eq "memcache"} {
        return [dict get [dict create \
            get     "memcache get $c bench:k100" \
            set     "memcache put $c bench:k100 \$small" \
            mget100 "memcache mget $c \$keys" \
            mset100 "memcache mput $c \$mdict" \
            get512k "memcache get $c bench:big" \
            set512k "memcache put $c bench:big \$big" \
            text512k "memcache get $c bench:text"] $workload]
    }
    return [dict get [dict create \
        get     "ptcl::get $c bench:k100" \
        set     "ptcl::store $c bench:k100 \$small" \
        mget100 "ptcl::mget $c \$keys" \
        mset100 "ptcl::mstore $c \$mdict" \
        get512k "ptcl::get $c bench:big" \
        set512k "ptcl::store $c bench:big \$big" \
        text512k "encoding convertfrom utf-8 \[ptcl::get $c bench:text\]"] $workload]
}

# The loops' prologue: the variables the operations use, made local.
proc bench::locals {} {
    return {
        set c $::bench::c
        set small $::bench::small
        set big $::bench::big
        set keys $::bench::keys
        set mdict $::bench::mdict
    }
}

# A compiled loop: runs the operation until the clock passes `end`.
proc bench::loop {client workload} {
    set name ::bench::loop_${client}_$workload
    if {[info commands $name] eq ""} {
        proc $name {end} "
            [locals]
            set n 0
            while {\[clock microseconds\] < \$end} {
                [op $client $workload]
                incr n
            }
            return \$n
        "
    }
    return $name
}

proc bench::trial {client workload secs} {
    set loop [loop $client $workload]
    set c0 [cpu]
    set t0 [clock microseconds]
    set n [$loop [expr {$t0 + int($secs * 1e6)}]]
    set wall [expr {([clock microseconds] - $t0) / 1e6}]
    set cpu [expr {[cpu] - $c0}]
    return [list $n $wall $cpu]
}

# Checks that each client really does its work, once.
proc bench::check {client} {
    variable c
    variable small
    variable big
    variable keys
    if {$client eq "memcache"} {
        set got [memcache get $c bench:k100]
        set bigGot [memcache get $c bench:big]
        set textGot [memcache get $c bench:text]
        set m [memcache mget $c $keys]
    } else {
        set got [ptcl::get $c bench:k100]
        set bigGot [ptcl::get $c bench:big]
        set textGot [encoding convertfrom utf-8 [ptcl::get $c bench:text]]
        set m [ptcl::mget $c $keys]
    }
    # (lengths only: comparing the bytearrays as strings would give them a
    # string representation, and so make them text)
    if {$got ne $small || [string length $bigGot] != [string length $big]
            || $textGot ne $::bench::bigtext || [dict size $m] != 100} {
        error "$client: the benchmark's items do not read back"
    }
}

proc bench::run {argv} {
    variable c
    variable workloads
    array set o [list --reps 3 --time 0.15 --pass 1 --out {} --tcp {} --unix {} \
        --workloads [join $workloads ,]]
    array set o $argv
    set selected {}
    foreach w $workloads {
        if {$w in [split $o(--workloads) ,]} {lappend selected $w}
    }
    set targets {}
    if {$o(--tcp) ne ""} {lappend targets tcp $o(--tcp)}
    if {$o(--unix) ne ""} {lappend targets unix $o(--unix)}
    set out [expr {$o(--out) eq "" ? "stdout" : [open $o(--out) a]}]
    load_memcache
    foreach {transport address} $targets {
        set conns [dict create memcache [memcache create $address]]
        if {$transport eq "tcp"} {
            lassign [split $address :] host port
            dict set conns puretcl [ptcl::connect $host $port]
        }
        # The items, stored as a Tcl program stores them (text is text).
        set c [dict get $conns memcache]
        memcache put $c bench:k100 $::bench::small 0
        memcache put $c bench:big $::bench::big 0
        memcache put $c bench:text $::bench::bigtext 0
        memcache mput $c $::bench::mdict 0
        dict for {client c} $conns {check $client}
        set clients [dict keys $conns]
        foreach workload $selected {
            foreach client $clients {
                set c [dict get $conns $client]
                trial $client $workload [expr {$o(--time) / 4}]
            }
            for {set rep 0} {$rep < $o(--reps)} {incr rep} {
                set order $clients
                if {($rep + $o(--pass)) % 2} {set order [lreverse $order]}
                foreach client $order {
                    set c [dict get $conns $client]
                    lassign [trial $client $workload $o(--time)] n wall cpu
                    puts $out [join [list $::bench::lang $client $workload $transport $o(--pass) $rep \
                        $n [format %.6f $wall] [format %.6f $cpu]] ,]
                    flush $out
                }
            }
        }
        memcache delete [dict get $conns memcache]
        if {[dict exists $conns puretcl]} {close [dict get $conns puretcl]}
    }
    if {$out ne "stdout"} {close $out}
}

# ----- report -----

proc bench::median {values} {
    set v [lsort -real $values]
    set n [llength $v]
    if {$n == 0} {return {}}
    if {$n % 2} {return [lindex $v [expr {$n / 2}]]}
    return [expr {([lindex $v [expr {$n / 2 - 1}]] + [lindex $v [expr {$n / 2}]]) / 2.0}]
}

# The median absolute deviation as a percentage of the median.
proc bench::spread {values} {
    set m [median $values]
    if {$m eq "" || $m == 0} {return 0}
    set dev {}
    foreach v $values {lappend dev [expr {abs($v - $m)}]}
    return [expr {100.0 * [median $dev] / $m}]
}

# Units per operation, and their name.
proc bench::unit {workload} {
    switch -- $workload {
        mget100 - mset100 {return {100 keys/s}}
        get512k - set512k - text512k {return {0.524288 MB/s}}
        default {return {1 ops/s}}
    }
}

# Per trial (keyed by pass,rep): the rate and the CPU per operation.
proc bench::series {lang client workload transport} {
    variable trials
    set key [list $lang $client $workload $transport]
    if {![info exists trials($key)]} {return {}}
    return $trials($key)
}

proc bench::rates {series} {
    set out {}
    dict for {k v} $series {lappend out [lindex $v 0]}
    return $out
}

proc bench::cpus {series} {
    set out {}
    dict for {k v} $series {lappend out [lindex $v 1]}
    return $out
}

# The median over paired trials (same pass and rep: run back to back) of
# a's value over b's (field 0: rate, 1: CPU per op); the ratio of the
# medians when nothing pairs.
proc bench::ratio {a b {field 0}} {
    if {![dict size $a] || ![dict size $b]} {return {}}
    set r {}
    dict for {k v} $a {
        if {[dict exists $b $k]} {
            set d [lindex [dict get $b $k] $field]
            if {$d > 0} {lappend r [expr {[lindex $v $field] / double($d)}]}
        }
    }
    if {[llength $r]} {return [median $r]}
    set ma [median [expr {$field ? [cpus $a] : [rates $a]}]]
    set mb [median [expr {$field ? [cpus $b] : [rates $b]}]]
    return [expr {$mb > 0 ? $ma / double($mb) : {}}]
}

# (a's CPU per op − b's) ÷ c's, medians; "" when one is missing.
proc bench::extra_cpu {a b c} {
    if {![dict size $a] || ![dict size $b] || ![dict size $c]} {return {}}
    set base [median [cpus $c]]
    if {$base <= 0} {return {}}
    return [expr {([median [cpus $a]] - [median [cpus $b]]) / $base}]
}

proc bench::fmt {x {digits 2}} {
    if {$x eq ""} {return -}
    return [format %.${digits}f $x]
}

proc bench::rate_fmt {x} {
    if {$x eq ""} {return -}
    if {$x >= 100000} {return [format %.0f $x]}
    if {$x >= 100} {return [format %.0f $x]}
    return [format %.1f $x]
}

proc bench::report {raw syscallsFile resultsFile} {
    variable trials
    variable syscalls
    set f [open $raw]
    foreach line [split [read $f] \n] {
        if {$line eq ""} continue
        lassign [split $line ,] lang client workload transport pass rep ops wall cpu
        lassign [unit $workload] per
        if {$ops == 0 || $wall <= 0} continue
        dict set trials([list $lang $client $workload $transport]) "$pass,$rep" \
            [list [expr {$ops * $per / $wall}] [expr {$cpu * 1e6 / $ops}]]
    }
    close $f
    variable instructions
    array set instructions {}
    set insFile [file join [file dirname $syscallsFile] instructions.csv]
    if {[file readable $insFile]} {
        set f [open $insFile]
        foreach line [split [read $f] \n] {
            if {$line eq ""} continue
            lassign [split $line ,] lang client workload perop
            set instructions($lang,$client,$workload) $perop
        }
        close $f
    }
    array set syscalls {}
    if {[file readable $syscallsFile]} {
        set f [open $syscallsFile]
        foreach line [split [read $f] \n] {
            if {$line eq ""} continue
            lassign [split $line ,] client workload transport perop detail
            set syscalls($client,$workload,$transport) [list $perop $detail]
        }
        close $f
    }
    set csv [open $resultsFile w]
    puts $csv "lang,client,workload,transport,unit,rate,rate_spread_pct,cpu_us_per_op,cpu_spread_pct,x_floor,x_libmemcached,cpu_x_libmemcached,x_c_api,x_puretcl,puretcl_cpu_over_this,syscalls_per_op,syscalls,user_instructions_per_op,trials"
    # The instruction count of a row (counted on TCP only), or "-".
    proc ::bench::ins {lang client workload transport} {
        variable instructions
        if {$transport eq "tcp" && [info exists instructions($lang,$client,$workload)]} {
            return $instructions($lang,$client,$workload)
        }
        return -
    }
    set workloads {get set mget100 mset100 get512k set512k get4t}
    set rows {}

    puts "C: rate = operations (keys, MB) per second of wall time; CPU = client CPU µs per"
    puts "operation (user + system, getrusage); ×floor, ×libmc = medians of per-round ratios."
    puts [format "%-8s %-5s %-13s %11s %-6s %5s %8s %5s %7s %7s %8s  %s" \
        workload trans client rate unit ±% CPU/op ±% ×floor ×libmc CPU×libmc sys/op]
    foreach workload $workloads {
        lassign [unit $workload] per unitName
        foreach transport {tcp unix} {
            set floor [series c floor $workload $transport]
            set libmc [series c libmemcached $workload $transport]
            foreach client {floor floor-meta libmemcached memcache libmc-async} {
                set s [series c $client $workload $transport]
                if {![dict size $s]} continue
                set rate [median [rates $s]]
                set cpu [median [cpus $s]]
                set xf [expr {$client eq "floor" ? "" : [ratio $s $floor]}]
                set xl [expr {$client eq "libmemcached" ? "" : [ratio $s $libmc]}]
                set cl [expr {$client eq "libmemcached" ? "" : [ratio $s $libmc 1]}]
                lassign [expr {[info exists syscalls($client,$workload,$transport)] ?
                    $syscalls($client,$workload,$transport) : {{} {}}}] sys detail
                puts [format "%-8s %-5s %-13s %11s %-6s %5.1f %8.1f %5.1f %7s %7s %8s  %s" \
                    $workload $transport $client [rate_fmt $rate] $unitName \
                    [spread [rates $s]] $cpu [spread [cpus $s]] \
                    [fmt $xf] [fmt $xl] [fmt $cl] [expr {$sys eq "" ? "" : "$sys ($detail)"}]]
                puts $csv [join [list c $client $workload $transport $unitName \
                    [format %.1f $rate] [format %.1f [spread [rates $s]]] \
                    [format %.2f $cpu] [format %.1f [spread [cpus $s]]] \
                    [fmt $xf 3] [fmt $xl 3] [fmt $cl 3] - - - \
                    [expr {$sys eq "" ? "-" : $sys}] [expr {$detail eq "" ? "-" : $detail}] \
                    [ins c $client $workload $transport] [dict size $s]] ,]
            }
        }
    }
    puts ""
    puts "TLS: this library over TLS (memcached -Z, TLS 1.3) and over plain TCP, same run;"
    puts "CPU×TCP = median of per-round ratios of CPU per op."
    puts [format "%-8s %11s %-6s %10s %10s %8s" workload "rate TLS" unit "CPU/op TLS" "CPU/op TCP" CPU×TCP]
    foreach workload {get set mget100 mset100 get512k set512k get4t} {
        lassign [unit $workload] per unitName
        set s [series c memcache $workload tls]
        if {![dict size $s]} continue
        set plain [series c memcache $workload tcp]
        set x [ratio $s $plain 1]
        puts [format "%-8s %11s %-6s %10.1f %10.1f %8s" $workload [rate_fmt [median [rates $s]]] \
            $unitName [median [cpus $s]] [median [cpus $plain]] [fmt $x]]
        puts $csv [join [list c memcache $workload tls $unitName \
            [format %.1f [median [rates $s]]] [format %.1f [spread [rates $s]]] \
            [format %.2f [median [cpus $s]]] [format %.1f [spread [cpus $s]]] \
            - - - - - - - - [ins c memcache-tls $workload tcp] [dict size $s]] ,]
    }
    set handshakesFile [file join [file dirname $syscallsFile] handshakes.txt]
    if {[file readable $handshakesFile]} {
        set f [open $handshakesFile]
        set handshakes [string trim [read $f]]
        close $f
        set trialsRun 0
        foreach key [array names trials [list c memcache * tls]] {
            incr trialsRun [dict size $trials($key)]
        }
        puts "TLS handshakes during the runs: $handshakes, one per connection opened (each\
            bench run's handles, get4t's four threads per trial), for $trialsRun timed trials\
            of thousands of operations each."
    }
    puts ""
    puts "Tcl: the memcache ensemble and a pure-Tcl socket client (TCP only in Tcl 8.6),"
    puts "in Tcl 8.6 and in Tcl 9 (Tcl column); ×C API = the ensemble over this library's"
    puts "C API (C rows above); ×pure-Tcl = rate over the pure-Tcl client's; pure-Tcl CPU÷ ="
    puts "its CPU per op over the ensemble's; CPU×8.6 = Tcl 9's CPU per op over Tcl 8.6's."
    puts "text512k: a 512 KiB text value read as a string (pure Tcl: read, then encoding"
    puts "convertfrom utf-8)."
    puts [format "%-8s %-5s %-4s %-9s %11s %-6s %5s %8s %5s %7s %8s %11s %7s" \
        workload trans Tcl client rate unit ±% CPU/op ±% ×C\ API ×pure-Tcl pure-Tcl\ CPU÷ CPU×8.6]
    foreach workload {get set mget100 mset100 get512k set512k text512k} {
        lassign [unit $workload] per unitName
        foreach transport {tcp unix} {
            set capi [series c memcache $workload $transport]
            foreach lang {tcl tcl9} {
                set pure [series $lang puretcl $workload $transport]
                foreach client {memcache puretcl} {
                    set s [series $lang $client $workload $transport]
                    if {![dict size $s]} continue
                    set rate [median [rates $s]]
                    set cpu [median [cpus $s]]
                    set xc [ratio $s $capi]
                    set xp [expr {$client eq "puretcl" ? "" : [ratio $s $pure]}]
                    set pc [expr {$client eq "puretcl" || ![dict size $pure] ? "" : [ratio $pure $s 1]}]
                    set x86 [expr {$lang eq "tcl" ? "" :
                        [ratio $s [series tcl $client $workload $transport] 1]}]
                    puts [format "%-8s %-5s %-4s %-9s %11s %-6s %5.1f %8.1f %5.1f %7s %8s %11s %7s" \
                        $workload $transport [expr {$lang eq "tcl" ? "8.6" : "9"}] $client \
                        [rate_fmt $rate] $unitName [spread [rates $s]] $cpu [spread [cpus $s]] \
                        [fmt $xc] [fmt $xp] [fmt $pc] [fmt $x86]]
                    puts $csv [join [list $lang $client $workload $transport $unitName \
                        [format %.1f $rate] [format %.1f [spread [rates $s]]] \
                        [format %.2f $cpu] [format %.1f [spread [cpus $s]]] \
                        - - - [fmt $xc 3] [fmt $xp 3] [fmt $pc 3] - - \
                        [ins $lang $client $workload $transport] [dict size $s]] ,]
                }
            }
        }
    }
    close $csv
    variable dir
    source [file join $dir chart.tcl]
    chart::write [file join [file dirname $resultsFile] chart.svg] \
        {get set mget100 mset100 get512k set512k get4t text512k} \
        "memcache benchmark, [clock format [clock seconds] -format %Y-%m-%d -gmt 1]:\
        rate ÷ the floor's (dashed line: 1.0)"

    variable instructions
    if {[array size instructions]} {
        puts ""
        puts "User-space instructions per operation (callgrind, TCP; deterministic, unlike"
        puts "CPU time; a memcpy done with rep movsb counts one per byte); Tcl in 8.6 and 9:"
        set cols {c,floor c,libmemcached c,memcache c,memcache-tls tcl,memcache tcl,puretcl
            tcl9,memcache tcl9,puretcl}
        puts [format "%-8s %9s %12s %10s %10s %10s %10s %10s %10s" workload floor libmemcached \
            "memcache C" "C over TLS" "Tcl 8.6" "pure 8.6" "Tcl 9" "pure 9"]
        foreach workload {get set mget100 text512k} {
            set row [list $workload]
            foreach key $cols {
                lappend row [expr {[info exists instructions($key,$workload)] ?
                    $instructions($key,$workload) : "-"}]
            }
            puts [format "%-8s %9s %12s %10s %10s %10s %10s %10s %10s" {*}$row]
        }
    }

    # ----- the targets -----
    puts ""
    puts "Targets (same run, medians of per-round ratios):"
    set met 0
    set total 0
    proc ::bench::target {text value cmp limit} {
        upvar met met total total
        incr total
        if {$value eq ""} {
            puts [format "  %-66s %8s  %s" $text - "NOT MEASURED"]
            return
        }
        set ok [expr "\$value $cmp \$limit"]
        if {$ok} {incr met}
        puts [format "  %-66s %8.3f  %s" $text $value [expr {$ok ? "met" : "MISSED"}]]
    }
    foreach transport {tcp unix} {
        foreach workload {get set} {
            target "C $workload $transport: CPU/op ÷ libmemcached's (≤ 1.00)" \
                [ratio [series c memcache $workload $transport] \
                    [series c libmemcached $workload $transport] 1] <= 1.0
            set sys [expr {[info exists syscalls(memcache,$workload,$transport)] ?
                [lindex $syscalls(memcache,$workload,$transport) 0] : ""}]
            target "C $workload $transport: system calls per op (= 2: write + read)" \
                $sys <= 2.05
        }
    }
    # Instructions per operation (callgrind, TCP): the stable figure.
    proc ::bench::instr {key} {
        variable instructions
        expr {[info exists instructions($key)] ? $instructions($key) : ""}
    }
    foreach workload {get set} {
        target "C $workload: user-space instructions per op (≤ 2000)" \
            [instr c,memcache,$workload] <= 2000
    }
    set floor [instr c,floor,mget100]
    set ours [instr c,memcache,mget100]
    target "C mget100: instructions per call ÷ the floor's (≤ 2.00)" \
        [expr {$floor ne "" && $ours ne "" ? double($ours) / $floor : ""}] <= 2.0
    foreach transport {tcp unix} {
        foreach workload {mget100 mset100} {
            target "C $workload $transport: keys/s ÷ the floor's (≥ 0.85)" \
                [ratio [series c memcache $workload $transport] \
                    [series c floor $workload $transport]] >= 0.85
        }
    }
    # The Tcl targets hold in Tcl 8.6 and in Tcl 9 (when it ran).
    foreach lang {tcl tcl9} {
        set v [expr {$lang eq "tcl" ? "Tcl" : "Tcl 9"}]
        if {$lang eq "tcl9" && ![dict size [series tcl9 memcache get tcp]]} continue
        foreach transport {tcp unix} {
            foreach workload {get set} {
                target "$v $workload $transport: ops/s ÷ the C API's (≥ 0.90)" \
                    [ratio [series $lang memcache $workload $transport] \
                        [series c memcache $workload $transport]] >= 0.9
            }
        }
        # The ensemble's own work: its instructions less the C API's.
        foreach workload {get set} {
            set tcl [instr $lang,memcache,$workload]
            set c [instr c,memcache,$workload]
            target "$v $workload: instructions per op above the C API's (≤ 1500)" \
                [expr {$tcl ne "" && $c ne "" ? $tcl - $c : ""}] <= 1500
        }
        foreach workload {get set} {
            target "$v $workload tcp: pure-Tcl CPU/op ÷ the ensemble's (≥ 1.20, clearly ahead)" \
                [ratio [series $lang puretcl $workload tcp] [series $lang memcache $workload tcp] 1] >= 1.2
        }
        foreach transport {tcp unix} {
            target "$v mget100 $transport: keys/s ÷ the C API's (≥ 0.90)" \
                [ratio [series $lang memcache mget100 $transport] \
                    [series c memcache mget100 $transport]] >= 0.9
        }
        # A text value costs at most a byte array's CPU plus one pass over
        # its bytes: at most a copy's worth (the C API's get512k, whose
        # client CPU is mostly the kernel's copy) more than get512k.
        target "$v text512k tcp: CPU/op − get512k's, ÷ the C API's get512k CPU/op (≤ 1.00)" \
            [extra_cpu [series $lang memcache text512k tcp] [series $lang memcache get512k tcp] \
                [series c memcache get512k tcp]] <= 1.0
    }
    foreach transport {tcp unix} {
        foreach workload {get512k set512k} {
            target "C $workload $transport: MB/s ÷ the floor's (≥ 0.90)" \
                [ratio [series c memcache $workload $transport] \
                    [series c floor $workload $transport]] >= 0.9
        }
    }
    foreach workload {get set} {
        target "C $workload over TLS: CPU/op ÷ plain TCP's (≤ 1.50)" \
            [ratio [series c memcache $workload tls] [series c memcache $workload tcp] 1] <= 1.5
    }
    foreach transport {tcp unix} {
        target "C get4t $transport: 4 threads, one handle, ops/s ÷ libmemcached's (≥ 1.00)" \
            [ratio [series c memcache get4t $transport] \
                [series c libmemcached get4t $transport]] >= 1.0
    }
    puts "  $met of $total met"
    # The pure-Tcl comparison in the client's own work: CPU per op above is
    # mostly the kernel's, the same two system calls for both clients.
    foreach workload {get set mget100} {
        if {[info exists instructions(tcl,memcache,$workload)]
                && [info exists instructions(tcl,puretcl,$workload)]} {
            puts [format "  (Tcl $workload tcp: pure-Tcl user instructions ÷ the ensemble's: %.2f)" \
                [expr {double($instructions(tcl,puretcl,$workload))
                    / $instructions(tcl,memcache,$workload)}]]
        }
    }
}

# Runs `n` operations of one client and workload on the TCP server, for
# counting instructions under callgrind (less a run with n = 0).
proc bench::count {address client workload n} {
    variable c
    load_memcache
    set h [memcache create $address]
    memcache put $h bench:k100 $::bench::small 0
    memcache put $h bench:big $::bench::big 0
    memcache put $h bench:text $::bench::bigtext 0
    memcache mput $h $::bench::mdict 0
    if {$client eq "memcache"} {
        set c $h
    } else {
        lassign [split $address :] host port
        set c [ptcl::connect $host $port]
    }
    proc ::bench::count_loop {n} "
        [locals]
        for {set i 0} {\$i < \$n} {incr i} {
            [op $client $workload]
        }
    "
    count_loop $n
}

switch -- [lindex $argv 0] {
    run {bench::run [lrange $argv 1 end]}
    count {bench::count {*}[lrange $argv 1 end]}
    report {bench::report {*}[lrange $argv 1 end]}
    default {
        puts stderr "usage: tclsh bench.tcl run ?--option value ...? | report RAW SYSCALLS RESULTS"
        exit 2
    }
}
