//! The C test programs of `tests/c/`, run against real memcached servers.
//!
//! Each program is compiled with `cc -std=c11 -Wall -Wextra -Wpedantic
//! -Werror` against the crate's `include/memcache.h`, linked to the built
//! `libmemcache.so` (what C users link), and run with the servers' specs as
//! arguments. It prints one line per failed check and ends with "ok N
//! checks" when all passed; anything else fails the test, with the
//! program's output.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use std::ffi::OsStr;

use support::{compile_c, expect_ok, library_path, run_with_limit, Memcached, Output, TempDir};

/// How long one C program may run before it is killed.
const TIME_LIMIT: Duration = Duration::from_secs(180);

/// The directory holding the `libmemcache.so` that this `cargo test` built.
fn library_dir() -> PathBuf {
    let lib = library_path();
    lib.parent()
        .expect("the library is in a directory")
        .to_path_buf()
}

/// Compiles `tests/c/<program>.c` into `out`; any warning fails the test.
fn compile(program: &str, out: &Path) -> PathBuf {
    let lib = library_dir();
    let exe = out.join(program);
    let lib_flag = format!("-L{}", lib.display());
    let extra: [&OsStr; 3] = [
        lib_flag.as_ref(),
        "-lmemcache".as_ref(),
        "-lpthread".as_ref(),
    ];
    compile_c(&format!("tests/c/{program}.c"), &exe, &extra);
    exe
}

/// Runs `command` with the library on `LD_LIBRARY_PATH`, killing it after
/// `TIME_LIMIT`.
fn run(mut command: Command) -> Output {
    let mut path = library_dir().into_os_string();
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(old);
    }
    command.env("LD_LIBRARY_PATH", path);
    run_with_limit(command, TIME_LIMIT)
}

/// Compiles and runs `tests/c/<program>.c` with `args`, under `wrapper`
/// (a command and its options, such as valgrind) if given.
fn run_c(program: &str, args: &[String], wrapper: &[&str]) -> u64 {
    let dir = TempDir::new(&format!("c-{program}"));
    let exe = compile(program, dir.path());
    let mut command = match wrapper.split_first() {
        Some((tool, options)) => {
            let mut c = Command::new(tool);
            c.args(options).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    command.args(args);
    let what = format!("tests/c/{program}.c {}", args.join(" "));
    expect_ok(&what, &run(command))
}

/// The servers `api.c` wants: TCP, Unix socket, and TCP with 1 MiB items.
fn api_servers() -> (Vec<Memcached>, Vec<String>) {
    let servers = vec![
        Memcached::tcp(),
        Memcached::unix(),
        Memcached::tcp_with(&["-I", "1m"]),
    ];
    let specs = servers.iter().map(Memcached::spec).collect();
    (servers, specs)
}

#[test]
fn api() {
    let (_servers, specs) = api_servers();
    run_c("api", &specs, &[]);
}

#[test]
fn threads() {
    let tcp = Memcached::tcp();
    let unix = Memcached::unix();
    run_c("threads", &[tcp.spec(), unix.spec()], &[]);
}

#[test]
fn fork() {
    let tcp = Memcached::tcp();
    run_c("fork", &[tcp.spec()], &[]);
    let unix = Memcached::unix();
    run_c("fork", &[unix.spec()], &[]);
}

/// `servers.c`: weights, distributions, placement values, server list
/// changes and the failure policy through memcache.h.
#[test]
fn servers() {
    let servers = [
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
    ];
    let mut args: Vec<String> = servers.iter().map(Memcached::spec).collect();
    args.push(format!("127.0.0.1:{}", support::free_port()));
    run_c("servers", &args, &[]);
}

/// `state.c`: mc_update and mc_lock from 8 processes forked after the
/// handle was made (a pre-forking FCGI server): nothing lost.
#[test]
fn state() {
    let tcp = Memcached::tcp_checked(&[]);
    run_c("state", &[tcp.spec()], &[]);
}

/// `auth.c`: a server started with an auth file (alice/secret).
#[test]
fn settings() {
    let tcp = Memcached::tcp();
    run_c("settings", &[tcp.spec()], &[]);
}

#[test]
fn lease() {
    let tcp = Memcached::tcp();
    run_c("lease", &[tcp.spec()], &[]);
}

#[test]
fn auth() {
    let dir = TempDir::new("c-auth");
    let file = dir.path().join("auth.txt");
    std::fs::write(&file, "alice:secret\n").unwrap();
    let locked = Memcached::tcp_with(&["-Y", file.to_str().unwrap()]);
    run_c("auth", &[locked.spec()], &[]);
}

#[test]
fn daemon() {
    let dir = TempDir::new("c-daemon-socks");
    run_c("daemon", &[dir.path().display().to_string()], &[]);
}

/// `make bench` is not part of the tests (it times things), but its C
/// program must keep compiling, warning-free, against the current header.
#[test]
fn bench_program_compiles() {
    let dir = TempDir::new("c-bench");
    let exe = dir.path().join("bench");
    let lib_flag = format!("-L{}", library_dir().display());
    let extra: [&OsStr; 5] = [
        "-O2".as_ref(),
        lib_flag.as_ref(),
        "-lmemcache".as_ref(),
        "-lmemcached".as_ref(),
        "-lpthread".as_ref(),
    ];
    compile_c("bench/bench.c", &exe, &extra);
    assert!(exe.is_file());
}

/// `api.c` again under valgrind, when it is installed: no invalid read or
/// write across the C boundary, and nothing the library returns is lost
/// after `mc_free` (one block per call).
#[test]
fn api_under_valgrind() {
    let installed = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("valgrind is not installed: api_under_valgrind skipped");
        return;
    }
    let (_servers, specs) = api_servers();
    run_c(
        "api",
        &specs,
        &[
            "valgrind",
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
        ],
    );
}

/// `tls.c`: a TLS server requiring client certificates, and a plain one.
#[test]
fn tls() {
    let pki = support::Pki::new();
    let secure = Memcached::tls(&pki, "server", true, &[]);
    let plain = Memcached::tcp();
    let dir = pki.path("ca.pem").parent().unwrap().display().to_string();
    run_c("tls", &[secure.spec(), plain.spec(), dir], &[]);
}
