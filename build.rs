//! Writes `include/memcache.h` from `src/capi.rs` with cbindgen. The header
//! is committed; the test command fails when a build changed it.

fn main() {
    println!("cargo:rerun-if-changed=src/capi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    cbindgen::Builder::new()
        .with_src(format!("{dir}/src/capi.rs"))
        .with_config(config)
        .generate()
        .expect("src/capi.rs can be turned into a C header")
        .write_to_file(format!("{dir}/include/memcache.h"));
}
