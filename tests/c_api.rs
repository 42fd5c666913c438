//! The C test programs of `tests/c/`, run against real memcached servers.
//!
//! Each program is compiled with `cc -std=c11 -Wall -Wextra -Wpedantic
//! -Werror` against the crate's `include/memcache.h`, linked to the built
//! `libmemcache.so` (what C users link), and run with the servers' specs as
//! arguments. It prints one line per failed check and ends with "ok N
//! checks" when all passed; anything else fails the test, with the
//! program's output.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{Memcached, TempDir};

/// The crate's root: the C sources and the header are taken from here.
const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// How long one C program may run before it is killed.
const TIME_LIMIT: Duration = Duration::from_secs(180);

/// The directory holding the `libmemcache.so` to test. This test binary is
/// `target/<profile>/deps/c_api-HASH`. The library that the same `cargo
/// test` built is next to it, in `deps/`: cargo compiles the library's
/// cdylib, staticlib and rlib in one go, but only `cargo build` copies them
/// up to `target/<profile>/`, so the copy there can be older than the code
/// under test. It is the fallback.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    let deps = exe
        .parent()
        .expect("the test binary lives in target/<profile>/deps");
    let profile = deps
        .parent()
        .expect("the test binary lives in target/<profile>/deps");
    let found = [deps, profile]
        .into_iter()
        .find(|dir| dir.join("libmemcache.so").is_file())
        .unwrap_or_else(|| {
            panic!(
                "libmemcache.so is missing from {} (and {}): run `cargo build` first",
                profile.display(),
                deps.display()
            )
        });
    found.to_path_buf()
}

/// Compiles `tests/c/<program>.c` into `out`; any warning fails the test.
fn compile(program: &str, out: &Path) -> PathBuf {
    let lib = library_dir();
    let exe = out.join(program);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let output = Command::new(&cc)
        .current_dir(CRATE) // so that messages say tests/c/<program>.c:LINE
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-g",
        ])
        .arg("-I")
        .arg(Path::new(CRATE).join("include"))
        .arg(format!("tests/c/{program}.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .args(["-lmemcache", "-lpthread"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e} (install a C compiler or set CC)"));
    let messages = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && messages.trim().is_empty(),
        "{cc} failed or warned on tests/c/{program}.c ({}):\n{messages}",
        output.status
    );
    exe
}

/// What a finished program said.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command` with the library on `LD_LIBRARY_PATH`, killing it after
/// `TIME_LIMIT`.
fn run(mut command: Command) -> Run {
    let lib = library_dir();
    let mut path = lib.into_os_string();
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(old);
    }
    let mut child = command
        .env("LD_LIBRARY_PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    // Both pipes are drained while the program runs, so that a program
    // with much to say cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the C program") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} did not finish within {} s; killed",
                TIME_LIMIT.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// The first lines of `text`, enough to read.
fn head(text: &str) -> String {
    const LINES: usize = 200;
    let mut out: Vec<&str> = text.lines().take(LINES).collect();
    let more = text.lines().count().saturating_sub(LINES);
    let tail = format!("... and {more} more lines");
    if more > 0 {
        out.push(&tail);
    }
    out.join("\n")
}

/// Checks a run: exit status 0, and "ok N checks" (N > 0) as the last line.
/// Returns N.
fn expect_ok(what: &str, run: &Run) -> u64 {
    let checks = run
        .stdout
        .lines()
        .last()
        .and_then(|line| line.strip_prefix("ok "))
        .and_then(|rest| rest.strip_suffix(" checks"))
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|&n| n > 0);
    match checks {
        Some(n) if run.status.success() => {
            println!("{what}: ok {n} checks");
            n
        }
        _ => panic!(
            "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.status,
            head(&run.stdout),
            head(&run.stderr)
        ),
    }
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

#[test]
fn daemon() {
    let dir = TempDir::new("c-daemon-socks");
    run_c("daemon", &[dir.path().display().to_string()], &[]);
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
