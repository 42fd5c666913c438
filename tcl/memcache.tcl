# memcache: the Tcl part of the extension, sourced by pkgIndex.tcl after
# the shared library is loaded.
#
# Memcache_Init (src/tcl/mod.rs) already made everything: the namespace
# ::memcache, one command ::memcache::<subcommand> per subcommand, and the
# ensemble command ::memcache over them, so a plain
# `load libmemcache.so Memcache` gives a complete `memcache` command too.
# Nothing is left to do here; Tcl-level helpers would go here (export them
# with `namespace export` to make them subcommands).
