//! Writes `include/memcache.h` from the C ABI in `src/capi/` with cbindgen.
//! The header is committed; the test command fails when a build changed it.

/// The files of the C ABI, in the order the header presents them: the
/// types first, then the functions, as a C programmer meets them.
const SOURCES: [&str; 13] = [
    "types", "boundary", "handles", "formats", "settings", "store", "fetch", "keys", "binary",
    "exptime", "servers", "update", "lease",
];

fn main() {
    // The shared library's SONAME: libmemcache.so.<major>, so a program
    // linked against this version refuses one with another major number
    // (`make install` adds the usual symlinks).
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmemcache.so.{major}");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let mut builder = cbindgen::Builder::new().with_config(config);
    for name in SOURCES {
        let path = format!("{dir}/src/capi/{name}.rs");
        println!("cargo:rerun-if-changed={path}");
        builder = builder.with_src(path);
    }
    builder
        .generate()
        .expect("src/capi/ can be turned into a C header")
        .write_to_file(format!("{dir}/include/memcache.h"));
}
