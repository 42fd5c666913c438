//! The C test programs of `tests/c/`, run against real memcached servers.
//!
//! Each program is compiled with `cc -std=c11 -Wall -Wextra -Wpedantic
//! -Werror` against the crate's `include/memcache.h`, linked to the built
//! `libmemcache.so` (what C users link), and run with the servers' specs as
//! arguments. It prints one line per failed check and ends with "ok N
//! checks" when all passed; anything else fails the test, with the
//! program's output.

mod support;

use std::process::{Command, Stdio};

use std::ffi::OsStr;

use support::{compile_c, library_dir, run_c, Memcached, TempDir};

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

/// `binary.c`: binary keys through the `_n` calls, every byte value.
#[test]
fn binary_keys() {
    let tcp = Memcached::tcp();
    run_c("binary", &[tcp.spec()], &[]);
}
