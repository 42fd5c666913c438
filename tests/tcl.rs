//! The Tcl test suite of the `memcache` extension (`tests/tcl/*.test`),
//! run with `tclsh tests/tcl/all.tcl` against real memcached servers, once
//! under Tcl 8.6 (`tcl86_suite`: `$TCLSH`, default `tclsh`) and once under
//! Tcl 9 (`tcl9_suite`: `$TCLSH9`, default `tclsh9.0` on the PATH, which
//! `.ci/tcl9.sh` installs). Without a Tcl 9 the second says so in one line
//! and passes, except under CI (the `CI` variable set), where it fails.
//!
//! This test starts the servers, passes their specs and the exact library
//! to load in environment variables (see `tests/tcl/common.tcl`), prints
//! tcltest's output, and fails unless tclsh exited 0 and tcltest's summary
//! line counts passed tests and no failed one.
//!
//! To run a part of the suite, pass tcltest options in `MEMCACHE_TCLTEST`,
//! e.g. `MEMCACHE_TCLTEST="-file data.test -verbose bpe" cargo test --test
//! tcl -- --nocapture`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{library_path, run_with_limit, tcl_list_element, FullBacklog, Memcached};

/// The crate's root.
const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// How long the whole Tcl suite may run (it takes well under a minute).
const TIME_LIMIT: Duration = Duration::from_secs(240);

/// tcltest's counts, from its summary line
/// `all.tcl:\tTotal\tN\tPassed\tN\tSkipped\tN\tFailed\tN`.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    total: u64,
    passed: u64,
    skipped: u64,
    failed: u64,
}

fn summary(output: &str) -> Option<Summary> {
    let line = output
        .lines()
        .rev()
        .find(|line| line.starts_with("all.tcl:") && line.contains("Total"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let count = |name: &str| -> Option<u64> {
        let at = words.iter().position(|w| *w == name)?;
        words.get(at + 1)?.parse().ok()
    };
    Some(Summary {
        total: count("Total")?,
        passed: count("Passed")?,
        skipped: count("Skipped")?,
        failed: count("Failed")?,
    })
}

#[test]
fn summary_line_is_parsed() {
    let out = "x\nall.tcl:\tTotal\t12\tPassed\t10\tSkipped\t1\tFailed\t1\nSourced 3 Test Files.\n";
    assert_eq!(
        summary(out),
        Some(Summary {
            total: 12,
            passed: 10,
            skipped: 1,
            failed: 1
        })
    );
    assert_eq!(summary("all.tcl: nothing\n"), None);
}

#[test]
fn tcl86_suite() {
    let tclsh = std::env::var("TCLSH").unwrap_or_else(|_| "tclsh".to_string());
    run_suite(&tclsh, "8.6");
}

#[test]
fn tcl9_suite() {
    let tclsh = std::env::var("TCLSH9").unwrap_or_else(|_| "tclsh9.0".to_string());
    if support::which(&tclsh).is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tclsh} not found: CI must install Tcl 9 (bash .ci/tcl9.sh)"
        );
        println!("Tcl 9 not found ({tclsh}; bash .ci/tcl9.sh installs it): the Tcl suite ran under 8.6 only");
        return;
    }
    run_suite(&tclsh, "9.");
}

/// Runs the whole suite under `tclsh`, whose `info patchlevel` must start
/// with `version`.
fn run_suite(tclsh: &str, version: &str) {
    let tcp = Memcached::tcp_checked(&[]);
    let unix = Memcached::unix();
    let small = Memcached::tcp_checked(&["-I", "1m"]);
    let tcp2 = Memcached::tcp_checked(&[]);
    let tcp3 = Memcached::tcp_checked(&[]);
    let noconnect = FullBacklog::new();
    // A server that requires a login (alice/secret), for auth.test.
    let auth_dir = support::TempDir::new("tcl-auth");
    let auth_file = auth_dir.path().join("auth.txt");
    std::fs::write(&auth_file, "alice:secret\n").unwrap();
    let locked = Memcached::tcp_with(&["-Y", auth_file.to_str().unwrap()]);
    // A TLS server that requires client certificates, for tls.test.
    let pki = support::Pki::new();
    let secure = Memcached::tls(&pki, "server", true, &[]);
    let library = library_path();

    let mut command = Command::new(tclsh);
    command
        .current_dir(CRATE)
        .arg(Path::new(CRATE).join("tests/tcl/all.tcl"))
        .args(
            std::env::var("MEMCACHE_TCLTEST")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .env("MEMCACHE_TCP", tcp.spec())
        .env("MEMCACHE_UNIX", unix.spec())
        .env("MEMCACHE_SMALL", small.spec())
        .env("MEMCACHE_TCP2", tcp2.spec())
        .env("MEMCACHE_TCP3", tcp3.spec())
        .env("MEMCACHE_NOCONNECT", noconnect.spec())
        .env("MEMCACHE_AUTH", locked.spec())
        .env("MEMCACHE_TLS", secure.spec())
        .env("MEMCACHE_PKI", pki.path(""))
        .env("MEMCACHE_LIBRARY", &library)
        .env("MEMCACHE_TCLSH", tclsh)
        .env(
            "TCLLIBPATH",
            tcl_list_element(&Path::new(CRATE).join("tcl")),
        );
    let run = run_with_limit(command, TIME_LIMIT);

    println!("{}", run.stdout);
    if !run.stderr.trim().is_empty() {
        println!("--- stderr ---\n{}", run.stderr);
    }
    let counts = summary(&run.stdout);
    if let Some(s) = counts.as_ref().filter(|s| s.skipped > 0) {
        eprintln!(
            "warning: {} Tcl tests were skipped (tcltest lists the constraints above; \
             `thread` needs the Thread package: apt-get install tcl-thread)",
            s.skipped
        );
    }
    let ok = matches!(&counts, Some(s) if s.failed == 0 && s.passed > 0 && s.total == s.passed + s.skipped);
    assert!(
        ok && run.status.success(),
        "the Tcl suite failed under {tclsh} ({}, {counts:?}, library {}): see the output above",
        run.status,
        library.display()
    );
    let ran = format!("all.tcl: Tcl {version}");
    assert!(
        run.stdout.lines().any(|l| l.starts_with(&ran)),
        "{tclsh} is not Tcl {version}: see the output above"
    );
}
