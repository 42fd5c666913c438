//! Interoperability with PHP's Memcached extension (Debian's php-cli and
//! php-memcached, which `.ci/run` installs): with `-valueformat php`, PHP's
//! strings, numbers and booleans read back in Tcl as strings, its zlib
//! compression is undone, fastlz is refused with an error that says what
//! to do; Tcl's text and bytes, and its compressed text, read back in PHP
//! as strings. `tests/php/interop.php` is the PHP side,
//! `tests/php/interop.tcl` the Tcl side; they run in turn against one
//! memcached. A machine without PHP fails this test (it is never skipped).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{expect_ok, library_path, run_with_limit, Memcached};

/// The crate's root.
const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// How long one script may run.
const TIME_LIMIT: Duration = Duration::from_secs(60);

fn php(mode: &str, m: &Memcached) -> u64 {
    let spec = m.spec();
    let (host, port) = spec.rsplit_once(':').unwrap();
    let mut command = Command::new(std::env::var("PHP").unwrap_or_else(|_| "php".into()));
    command
        .arg(Path::new(CRATE).join("tests/php/interop.php"))
        .args([mode, host, port]);
    let run = run_with_limit(command, TIME_LIMIT);
    assert!(
        run.stderr.is_empty() || run.status.success(),
        "php (apt-get install php-cli php-memcached): {}",
        run.stderr
    );
    expect_ok(&format!("php interop.php {mode}"), &run)
}

#[test]
fn php_and_tcl_read_each_others_values() {
    let m = Memcached::tcp();
    assert_eq!(php("store", &m), 8);
    let mut tcl = Command::new(std::env::var("TCLSH").unwrap_or_else(|_| "tclsh".into()));
    tcl.arg(Path::new(CRATE).join("tests/php/interop.tcl"))
        .arg(m.spec())
        .env("MEMCACHE_LIBRARY", library_path());
    let run = run_with_limit(tcl, TIME_LIMIT);
    assert_eq!(expect_ok("tclsh interop.tcl", &run), 17);
    assert_eq!(php("check", &m), 4);
}
