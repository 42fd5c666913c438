//! Starting a daemon: under the lock file beside its socket, a stale
//! socket replaced, memcached started detached, waited for until it
//! answers (or its own words when it exits at once).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::client::DaemonOptions;
use crate::error::{Error, Kind, Result};
use crate::server::{Address, Server};

use super::probe::answers;
use super::POLL;

/// Makes sure a daemon answers on socket file `path`: under the lock file
/// beside it, checks again, removes a stale socket file, starts one.
pub(super) fn ensure_unix(server: &Server, path: &Path, options: &DaemonOptions) -> Result<()> {
    let address = &server.address;
    if answers(address) {
        return Ok(());
    }
    let _lock = lock_beside(server, path)?;
    // Only a socket that refuses (or no file at all) is stale: one that
    // denies us (another user's, say) is not ours to replace.
    match UnixStream::connect(path) {
        Ok(_) => return Ok(()), // another process started it while we waited
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) => {}
        Err(e) => {
            return Err(Error::new(
                Kind::Daemon,
                format!("{server}: cannot connect to {}: {e}", path.display()),
            ))
        }
    }
    let meta = std::fs::symlink_metadata(path).ok();
    if meta.as_ref().is_some_and(|m| !m.file_type().is_socket()) {
        return Err(Error::new(
            Kind::Daemon,
            format!("{server}: {} exists and is not a socket", path.display()),
        ));
    }
    if meta.is_some() {
        std::fs::remove_file(path).map_err(|e| {
            Error::new(
                Kind::Daemon,
                format!(
                    "{server}: cannot remove the stale socket file {}: {e}",
                    path.display()
                ),
            )
        })?;
    }
    start_daemon(server, options)
}

/// Takes an exclusive lock on `<socket>.lock` (released when the file
/// closes, also if the process dies).
pub(super) fn lock_beside(server: &Server, path: &Path) -> Result<File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    // Never through a symbolic link: one planted there would make us create
    // (or lock) a file of the planter's choosing.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&lock_path)
        .map_err(|e| {
            Error::new(
                Kind::Daemon,
                format!(
                    "{server}: cannot open the lock file {}: {e}",
                    lock_path.display()
                ),
            )
        })?;
    file.lock().map_err(|e| {
        Error::new(
            Kind::Daemon,
            format!("{server}: cannot lock {}: {e}", lock_path.display()),
        )
    })?;
    Ok(file)
}

/// The argument list for a daemon serving `server`.
pub(super) fn arguments(server: &Server, options: &DaemonOptions) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    match &server.address {
        Address::Unix(path) => {
            args.extend(["-s".into(), path.into()]);
            args.extend(["-a".into(), format!("{:o}", options.socket_mode).into()]);
        }
        Address::Tcp { port, addrs, .. } => {
            let ip: IpAddr = addrs[0].ip();
            args.extend(["-l".into(), ip.to_string().into()]);
            args.extend([
                "-p".into(),
                port.to_string().into(),
                "-U".into(),
                "0".into(),
            ]);
        }
    }
    args.extend(["-m".into(), options.memory_mb.to_string().into()]);
    if options.persist {
        args.extend(["-e".into(), memory_file(server).into()]);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // memcached refuses to run as root unless told which user to be.
        args.extend(["-u".into(), "root".into()]);
    }
    args.extend(options.args.iter().map(OsString::from));
    args
}

/// Where a persistent daemon for `server` keeps its items (see
/// [`DaemonOptions::persist`]): beside its socket file, or for a local TCP
/// port in the temporary directory, named after the address.
pub(super) fn memory_file(server: &Server) -> PathBuf {
    match &server.address {
        Address::Unix(path) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".mem");
            PathBuf::from(name)
        }
        Address::Tcp { port, addrs, .. } => std::env::temp_dir().join(format!(
            "memcached-{}-{port}.mem",
            addrs[0].ip().to_string().replace(':', "_")
        )),
    }
}

/// Waits, if need be, until the second after the one a persistent daemon
/// with memory file `memory` was stopped in: memcached refuses to restore
/// its items when it starts in that same second ("restart incompatible due
/// to setting for [stop_time]") and starts empty instead. The stop time is
/// the `Kstop_time` line of the file's `.meta` companion.
fn wait_past_stop_time(memory: &Path) {
    let mut meta = memory.as_os_str().to_owned();
    meta.push(".meta");
    let Ok(text) = std::fs::read_to_string(PathBuf::from(meta)) else {
        return; // never stopped gracefully: nothing to restore
    };
    let Some(stopped) = text
        .lines()
        .find_map(|l| l.strip_prefix("Kstop_time "))
        .and_then(|t| t.trim().parse::<u64>().ok())
    else {
        return;
    };
    let after = std::time::UNIX_EPOCH + std::time::Duration::from_secs(stopped + 1);
    if let Ok(left) = after.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(left.min(std::time::Duration::from_secs(2)));
    }
}

/// Starts memcached for `server`, detached, and waits until it answers.
///
/// The daemon is a grandchild: the child makes a new session, forks, and
/// exits, so the daemon is reparented to init (never a zombie of ours) and
/// survives this process. Until it answers, its stderr is a pipe to us, so
/// a daemon that exits at once (bad option, address in use) is reported with
/// its own message.
pub(super) fn start_daemon(server: &Server, options: &DaemonOptions) -> Result<()> {
    if options.persist {
        wait_past_stop_time(&memory_file(server));
    }
    let binary = options.binary.to_string_lossy().into_owned();
    let mut command = Command::new(&options.binary);
    command
        .args(arguments(server, options))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .current_dir("/");
    // Read before the fork: sysconf is not async-signal-safe.
    // SAFETY: sysconf has no preconditions.
    let open_max = match unsafe { libc::sysconf(libc::_SC_OPEN_MAX) } {
        n if n > 0 => n.min(65536) as libc::c_int,
        _ => 1024,
    };
    // SAFETY: between fork and exec the closure makes only system calls
    // (setsid, fork, _exit, close_range or fcntl). Its fork also runs the
    // process's atfork handlers: the library's own take and release its
    // locks, which in this child (one thread, none held) cannot block, and
    // use the allocator, which glibc keeps usable in a child; those of the
    // host program are the host's to keep fork-safe, as for any fork.
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            match libc::fork() {
                -1 => return Err(std::io::Error::last_os_error()),
                0 => {}
                _ => libc::_exit(0),
            }
            mark_descriptors_close_on_exec(open_max);
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (install memcached, or set MEMCACHED to its path)"
        } else {
            ""
        };
        Error::new(
            Kind::Daemon,
            format!("{server}: cannot run {binary}: {e}{hint}"),
        )
    })?;
    let _ = child.wait(); // the intermediate child, which exits at once
    let mut stderr = child.stderr.take().expect("stderr is piped");
    set_nonblocking(&stderr);
    let mut said = Vec::new();
    let deadline = Instant::now() + options.start_timeout;
    loop {
        if answers(&server.address) {
            return Ok(());
        }
        let mut chunk = [0u8; 4096];
        match stderr.read(&mut chunk) {
            // EOF: every copy of the pipe is closed, so the daemon exited.
            Ok(0) => {
                let text = String::from_utf8_lossy(&said);
                let text = text.trim();
                return Err(Error::new(
                    Kind::Daemon,
                    if text.is_empty() {
                        format!("{server}: {binary} exited at once without a message")
                    } else {
                        format!("{server}: {binary} exited at once: {text}")
                    },
                ));
            }
            Ok(n) => said.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
        if Instant::now() > deadline {
            return Err(Error::new(
                Kind::Daemon,
                format!(
                    "{server}: {binary} did not answer within {} ms",
                    options.start_timeout.as_millis()
                ),
            ));
        }
        std::thread::sleep(POLL);
    }
}

pub(super) fn set_nonblocking(file: &impl AsRawFd) {
    // SAFETY: fcntl on an open descriptor.
    unsafe {
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// Marks every descriptor above stderr close-on-exec, so the daemon
/// inherits none of its starter's files, sockets or locks (a descriptor the
/// host program opened without O_CLOEXEC would otherwise live on in it).
///
/// Only system calls, no allocation: it runs between fork and exec.
/// `open_max` bounds the descriptors tried when close_range is missing.
pub(super) fn mark_descriptors_close_on_exec(open_max: libc::c_int) {
    // close_range(3, ~0, CLOSE_RANGE_CLOEXEC), Linux 5.11; else one by one.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range takes plain numbers; it only changes descriptor
    // flags of this process.
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) } == 0 {
        return;
    }
    for fd in 3..open_max {
        // SAFETY: F_SETFD on any number is safe: a closed one fails.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}
