//! Interoperability with the real python-memcached package: data stored
//! by one client reads back right in the other (text as text, bytes as
//! bytes, python-memcached's flags), and with three servers in the same
//! order both clients put every key on the same server (python-memcached's
//! crc32 hash rule).
//!
//! The Python side is `tests/python/interop.py`, the Tcl side
//! `tests/python/interop.tcl`; they run in turn against the same servers:
//! Python stores, Tcl checks and stores, Python checks. python-memcached
//! is installed with pip when it is missing; a machine that cannot install
//! it fails this test (it is never skipped).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{library_path, run_with_limit, tcl_list_element, Memcached, Output};

/// The crate's root.
const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// How long one script may run.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// The Python interpreter: `$PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Does `python` import python-memcached (the module `memcache` with its
/// `Client` and `cmemcache_hash`)?
fn has_python_memcached() -> Result<bool, String> {
    let probe = "import memcache, sys; \
                 sys.exit(0 if hasattr(memcache, 'Client') and hasattr(memcache, 'cmemcache_hash') else 3)";
    let out = Command::new(python())
        .args(["-c", probe])
        .output()
        .map_err(|e| {
            format!(
                "cannot run {}: {e} (install Python 3 or set PYTHON)",
                python()
            )
        })?;
    Ok(out.status.success())
}

/// Makes sure python-memcached can be imported, installing it with pip if
/// it is missing; panics with the reason if that cannot be done.
fn ensure_python_memcached() {
    match has_python_memcached() {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => panic!("{e}"),
    }
    let out = Command::new(python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "python-memcached",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} -m pip: {e}", python()));
    assert!(
        out.status.success(),
        "python-memcached is not installed and `{} -m pip install python-memcached` failed \
         ({}): install it (pip install python-memcached) or make the package registry \
         reachable\n--- pip stdout ---\n{}\n--- pip stderr ---\n{}",
        python(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        has_python_memcached(),
        Ok(true),
        "pip installed python-memcached, but `import memcache` still fails with {}",
        python()
    );
}

/// Checks that a script ended with "ok N checks" (N > 0) and exit 0.
fn expect_ok(what: &str, run: &Output) {
    let passed = run
        .stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("ok "))
        .and_then(|l| l.strip_suffix(" checks"))
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n > 0);
    assert!(
        passed && run.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    println!("{what}: {}", run.stdout.lines().last().unwrap_or(""));
}

fn run_python(phase: &str, args: &[String]) -> Output {
    let mut command = Command::new(python());
    command
        .current_dir(CRATE)
        .arg(Path::new(CRATE).join("tests/python/interop.py"))
        .arg(phase)
        .args(args);
    run_with_limit(command, TIME_LIMIT)
}

fn run_tcl(args: &[String]) -> Output {
    let tclsh = std::env::var("TCLSH").unwrap_or_else(|_| "tclsh".to_string());
    let mut command = Command::new(tclsh);
    command
        .current_dir(CRATE)
        .arg(Path::new(CRATE).join("tests/python/interop.tcl"))
        .args(args)
        .env("MEMCACHE_LIBRARY", library_path())
        .env(
            "TCLLIBPATH",
            tcl_list_element(&Path::new(CRATE).join("tcl")),
        );
    run_with_limit(command, TIME_LIMIT)
}

#[test]
fn python_memcached_interop() {
    ensure_python_memcached();
    let servers = [
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
    ];
    let args: Vec<String> = servers.iter().map(Memcached::spec).collect();

    expect_ok("python-memcached stores", &run_python("store", &args));
    expect_ok("Tcl reads Python's data, stores its own", &run_tcl(&args));
    expect_ok(
        "python-memcached reads Tcl's data",
        &run_python("check", &args),
    );
}
