//! The C test programs of `tests/c/`: compiled against the crate's header
//! and linked to the `libmemcache.so` this `cargo test` built, then run.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{compile_c, expect_ok, library_path, run_with_limit, Output, TempDir};

/// How long one C program may run before it is killed.
const TIME_LIMIT: Duration = Duration::from_secs(180);

/// The directory holding the `libmemcache.so` that this `cargo test` built.
pub fn library_dir() -> PathBuf {
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
pub fn run_c(program: &str, args: &[String], wrapper: &[&str]) -> u64 {
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
