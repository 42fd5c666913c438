# bench/chart.tcl: the benchmark as a picture, sourced by bench.tcl's report.
#
# One SVG file, written by the harness itself (no plotting tool): for each
# workload and transport, each client's rate as a bar relative to the
# floor's (the hand-written C client of bench.c, drawn as a line at 1.0),
# C, Tcl 8.6 and Tcl 9 rows. A workload without a floor row (text512k, a
# Tcl-only workload) is drawn relative to the C API's get512k. Rates are
# the medians of the rounds, as in the table.

namespace eval ::bench::chart {
    # Client rows of the chart: series key (lang client), label, colour.
    variable rows {
        {c libmemcached}   "C libmemcached"  #9e9e9e
        {c memcache}       "C memcache"      #1f6fb2
        {tcl memcache}     "Tcl 8.6 memcache" #2e9d4a
        {tcl puretcl}      "Tcl 8.6 pure Tcl" #a6d8b0
        {tcl9 memcache}    "Tcl 9 memcache"  #d9822b
        {tcl9 puretcl}     "Tcl 9 pure Tcl"  #f2c79b
    }
    variable barHeight 9
    variable left 150
    variable width 460
    # The scale's end: rates above it are drawn to it, with their number.
    variable maxRatio 2.0
}

# The rate (median) of a series, or "".
proc ::bench::chart::rate {lang client workload transport} {
    set s [::bench::series $lang $client $workload $transport]
    if {![dict size $s]} {return {}}
    return [::bench::median [::bench::rates $s]]
}

# Text safe inside SVG.
proc ::bench::chart::esc {text} {
    string map {& &amp; < &lt; > &gt; \" &quot;} $text
}

# Writes the chart of `workloads` to `file`; `title` goes at its top.
proc ::bench::chart::write {file workloads title} {
    variable rows
    variable barHeight
    variable left
    variable width
    variable maxRatio
    set body {}
    set y 56
    foreach workload $workloads {
        foreach transport {tcp unix} {
            set floor [rate c floor $workload $transport]
            set refName floor
            if {$floor eq ""} {
                set floor [rate c memcache get512k $transport]
                set refName "C memcache get512k"
            }
            if {$floor eq "" || $floor <= 0} continue
            set bars {}
            foreach {key label colour} $rows {
                set r [rate {*}$key $workload $transport]
                if {$r ne ""} {lappend bars $label $colour [expr {$r / $floor}]}
            }
            if {![llength $bars]} continue
            append body [format {<text x="4" y="%d" class="w">%s %s</text>} \
                [expr {$y + $barHeight}] $workload $transport] \n
            append body [format {<text x="4" y="%d" class="n">÷ %s</text>} \
                [expr {$y + 2 * $barHeight + 3}] [esc $refName]] \n
            set top $y
            foreach {label colour ratio} $bars {
                set w [expr {min($ratio, $maxRatio) / $maxRatio * $width}]
                append body [format {<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %.2f</title></rect>} \
                    $left $y $w [expr {$barHeight - 1}] $colour [esc $label] $ratio] \n
                append body [format {<text x="%.1f" y="%d" class="v">%.2f</text>} \
                    [expr {$left + $w + 3}] [expr {$y + $barHeight - 1}] $ratio] \n
                incr y $barHeight
            }
            set one [expr {$left + $width / $maxRatio}]
            append body [format {<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="floor"/>} \
                $one [expr {$top - 2}] $one [expr {$y + 1}]] \n
            incr y 10
        }
    }
    # The legend, in two columns.
    set legend {}
    set i 0
    foreach {key label colour} $rows {
        set x [expr {4 + ($i % 3) * 210}]
        set ly [expr {24 + ($i / 3) * 14}]
        append legend [format {<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="n">%s</text>} \
            $x [expr {$ly - 9}] $colour [expr {$x + 14}] $ly [esc $label]] \n
        incr i
    }
    set height [expr {$y + 10}]
    set total [expr {$left + $width + 50}]
    set f [open $file w]
    fconfigure $f -encoding utf-8
    puts $f [format {<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">} \
        $total $height $total $height]
    puts $f {<style>.w{font-size:11px;font-weight:bold}.n{font-size:10px;fill:#444}.v{font-size:9px;fill:#222}.floor{stroke:#000;stroke-dasharray:3,2}</style>}
    puts $f {<rect width="100%" height="100%" fill="#fff"/>}
    puts $f [format {<text x="4" y="11" class="w">%s</text>} [esc $title]]
    puts -nonewline $f $legend
    puts -nonewline $f $body
    puts $f {</svg>}
    close $f
}
