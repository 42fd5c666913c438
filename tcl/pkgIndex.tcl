# Package index of the memcache extension.
#
# The shared library is looked for beside this file (the installed layout,
# .../memcache0.1.0/{libmemcache.so,pkgIndex.tcl,memcache.tcl}), else in the
# source tree: $CARGO_TARGET_DIR/{release,debug} if that is set, and
# ../target/{release,debug} relative to this directory; of those that
# exist, the most recently built one wins.
#
# The version must equal the crate's (Cargo.toml); Memcache_Init provides
# exactly that version, so a mismatch fails loudly in `package require`.

# One library serves Tcl 8.6 and every 9.x (it reads the stubs table it is
# given, see src/tcl/stubs.rs); the range's upper end is exclusive.
if {![package vsatisfies [package provide Tcl] 8.6-10]} {return}

package ifneeded memcache 0.1.0 [list apply {{dir} {
    set name libmemcache[info sharedlibextension]
    set lib [file join $dir $name]
    if {![file isfile $lib]} {
        set targets [list [file join [file dirname $dir] target]]
        if {[info exists ::env(CARGO_TARGET_DIR)] && $::env(CARGO_TARGET_DIR) ne ""} {
            set targets [linsert $targets 0 [file normalize $::env(CARGO_TARGET_DIR)]]
        }
        set lib ""
        set newest -1
        foreach target $targets {
            foreach profile {release debug} {
                set candidate [file join $target $profile $name]
                if {[file isfile $candidate] && [file mtime $candidate] > $newest} {
                    set lib $candidate
                    set newest [file mtime $candidate]
                }
            }
        }
        if {$lib eq ""} {
            return -code error -errorcode {MEMCACHE LOAD} \
                "memcache: $name not found beside $dir or in a cargo target directory (run cargo build)"
        }
    }
    load $lib Memcache
    if {[package provide memcache] eq ""} {
        # Tcl 8.6 keeps a library marked as loaded in an interpreter it was
        # unloaded from while other interpreters still use it, and then
        # `load` does nothing there (fixed in Tcl 8.7).
        return -code error -errorcode {MEMCACHE LOAD} \
            "memcache: cannot be loaded again into an interpreter it was unloaded from while other interpreters use it (Tcl 8.6 limitation)"
    }
    source [file join $dir memcache.tcl]
}} $dir]
