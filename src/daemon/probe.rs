//! Looking at daemons: does one answer, is an address this host's, which
//! process serves a socket or port, is it ours (a memcached of this user),
//! has it exited.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::server::Address;

/// How long a liveness probe waits for a connection.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Does something accept connections at `address`?
pub fn answers(address: &Address) -> bool {
    match address {
        Address::Unix(path) => UnixStream::connect(path).is_ok(),
        Address::Tcp { addrs, .. } => addrs
            .iter()
            .any(|a| TcpStream::connect_timeout(a, PROBE_TIMEOUT).is_ok()),
    }
}

/// Is `address` on this host (so a daemon for it can be started here)? A
/// socket file always is; a TCP address is if this host can bind it.
pub fn is_local(address: &Address) -> bool {
    match address {
        Address::Unix(_) => true,
        Address::Tcp { addrs, .. } => addrs.iter().any(|a| {
            a.ip().is_loopback()
                || a.ip().is_unspecified()
                || TcpListener::bind((a.ip(), 0)).is_ok()
        }),
    }
}

/// Is process `pid` a memcached (by its executable's file name) run by this
/// process's effective user? The reason why not, else.
pub(super) fn is_our_memcached(pid: libc::pid_t) -> std::result::Result<(), String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map_err(|e| format!("cannot be looked at ({e})"))?;
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.starts_with("memcached") {
        return Err(format!("is not a memcached (it runs {})", exe.display()));
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot be looked at ({e})"))?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|uid| uid.parse::<u32>().ok())
        .ok_or_else(|| "has no user id in /proc".to_string())?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if uid != me {
        return Err(format!("is run by user {uid}, not by this user ({me})"));
    }
    Ok(())
}

/// The pid of the process listening on socket file `path` (SO_PEERCRED).
pub(super) fn peer_pid(path: &Path) -> Option<libc::pid_t> {
    let stream = UnixStream::connect(path).ok()?;
    // SAFETY: ucred is plain data; getsockopt writes at most `len` bytes.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: an open socket; `cred` and `len` are locals that outlive the
    // call, and `len` says how many bytes `cred` has.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0 && cred.pid > 0).then_some(cred.pid)
}

/// Does process `pid` hold the socket listening on TCP `port`? The
/// listener's inode is in /proc/net/tcp{,6}, a process's sockets in
/// /proc/<pid>/fd.
pub(super) fn listens_on(pid: libc::pid_t, port: u16) -> bool {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue; // not a listener
            }
            let local = f[1].rsplit_once(':').map(|(_, p)| p);
            if local.and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|link| inodes.iter().any(|i| link.as_os_str() == i.as_str()))
    })
}

/// Has process `pid` exited? Its pid is free, or it is a zombie whose
/// threads are all gone (a daemon reparented to init stays a zombie until
/// init reaps it; a thread-group leader that exited before its other
/// threads shows as a zombie while they still run and hold its sockets).
pub(super) fn exited(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks the pid.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return true;
    }
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    field("State:").starts_with('Z') && field("Threads:").parse::<u32>().unwrap_or(0) <= 1
}

/// Was memcached `pid` started with a memory file (`-e`, restartable
/// cache)? Its command line says.
pub(super) fn is_persistent(pid: libc::pid_t) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline.split(|&b| b == 0).any(|arg| {
            arg == b"-e"
                || arg.starts_with(b"--memory-file")
                || (arg.starts_with(b"-e") && arg.len() > 2 && !arg.starts_with(b"--"))
        })
    })
}
