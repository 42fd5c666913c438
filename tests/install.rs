//! `make install` and `make uninstall` as a packager runs them: into a
//! staging directory (DESTDIR), with no cargo on PATH (root often has
//! none), from what the build made. The library gets its SONAME links and
//! is stripped, the man page is found by `man`, the Tcl package loads, and
//! uninstall leaves the staging directory as it found it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::TempDir;

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// Every path below `root`, sorted, relative to it.
fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// What `script` prints in `tclsh` with `dir` on its auto_path.
fn run_tcl(tclsh: &str, dir: &Path, script: &str) -> String {
    let out = Command::new(tclsh)
        .env("TCLLIBPATH", dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("{tclsh}: {e}"));
    assert!(
        out.status.success(),
        "{tclsh}: {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `make TARGET` in the crate with `DESTDIR=stage`, the build's library
/// directory as RELEASE, and a PATH without cargo.
fn make(target: &str, stage: &Path, build: &Path) -> String {
    let path: Vec<&str> = std::env::var("PATH")
        .unwrap_or_default()
        .leak()
        .split(':')
        .filter(|dir| !Path::new(dir).join("cargo").exists())
        .collect();
    let out = Command::new("make")
        .current_dir(CRATE)
        .env("PATH", path.join(":"))
        .arg(target)
        .arg(format!("DESTDIR={}", stage.display()))
        .arg(format!("RELEASE={}", build.display()))
        .output()
        .expect("make");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "make {target} failed:\n{text}");
    assert!(!text.contains("cargo"), "make {target} ran cargo:\n{text}");
    text
}

#[test]
fn install_and_uninstall_into_a_staging_directory() {
    let lib = support::library_path();
    // The library under test: cargo builds libmemcache.so and .a beside it.
    let build = lib.parent().unwrap().to_path_buf();
    assert!(
        build.join("libmemcache.a").is_file() && lib.is_file(),
        "{} has no libmemcache.a: run `cargo build` first",
        build.display()
    );
    let stage = TempDir::new("install");
    // A directory that exists before: install must leave it in place.
    std::fs::create_dir_all(stage.path().join("usr/local/include")).unwrap();
    let before = tree(stage.path());
    make("install", stage.path(), &build);
    let root = stage.path().join("usr/local");
    let version = env!("CARGO_PKG_VERSION");
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let libdir = root.join("lib");
    assert_eq!(
        std::fs::read_link(libdir.join("libmemcache.so")).unwrap(),
        PathBuf::from(format!("libmemcache.so.{major}"))
    );
    assert_eq!(
        std::fs::read_link(libdir.join(format!("libmemcache.so.{major}"))).unwrap(),
        PathBuf::from(format!("libmemcache.so.{version}"))
    );
    let so = libdir.join(format!("libmemcache.so.{version}"));
    let readelf = Command::new("readelf")
        .arg("-dS")
        .arg(&so)
        .output()
        .unwrap();
    let readelf = String::from_utf8_lossy(&readelf.stdout);
    assert!(
        readelf.contains(&format!("Library soname: [libmemcache.so.{major}]")),
        "{readelf}"
    );
    assert!(!readelf.contains(".debug_info"), "not stripped");
    assert!(root.join("include/memcache.h").is_file());
    assert!(libdir.join("pkgconfig/memcache.pc").is_file());
    // `man memcache` finds the page (section n, Tcl's).
    let man = Command::new("man")
        .arg("-M")
        .arg(root.join("share/man"))
        .args(["-w", "memcache"])
        .output()
        .expect("man (apt-get install man-db)");
    assert_eq!(
        String::from_utf8_lossy(&man.stdout).trim(),
        root.join("share/man/mann/memcache.n").display().to_string()
    );
    // The installed Tcl package loads from its directory, with `package
    // require` and without (the first `memcache` call auto-loads it through
    // the tclIndex beside it), in Tcl 8.6 and in Tcl 9.
    let pkg = libdir.join(format!("tcltk/memcache{version}"));
    let mut shells = vec![std::env::var("TCLSH").unwrap_or_else(|_| "tclsh".into())];
    let tcl9 = std::env::var("TCLSH9").unwrap_or_else(|_| "tclsh9.0".into());
    if support::which(&tcl9).is_some() {
        shells.push(tcl9);
    } else {
        println!("{tcl9} not found (bash .ci/tcl9.sh installs it): the installed package was tried in Tcl 8.6 only");
    }
    for tclsh in &shells {
        for (script, want) in [
            (
                "puts [package require memcache]; puts [memcache list]",
                format!("{version}\n\n"),
            ),
            (
                "set h [memcache create -autostart 0 127.0.0.1:1]; puts [memcache list]; puts [package provide memcache]",
                format!("memcache0\n{version}\n"),
            ),
        ] {
            let out = run_tcl(tclsh, &libdir.join("tcltk"), script);
            assert_eq!(out, want, "{tclsh}: {script} ({})", pkg.display());
        }
    }
    make("uninstall", stage.path(), &build);
    assert_eq!(tree(stage.path()), before);
}
