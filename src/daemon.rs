//! Local memcached daemons: find, start and stop the ones serving a handle.
//!
//! A socket-file server that nothing answers on is started when its handle
//! is created (autostart), so `memcache create ./state.sock` just works for
//! a CGI program. Daemons are detached (new session, reparented to init, no
//! inherited descriptors, stdin and stdout on /dev/null; stderr is a pipe
//! to the starter until the daemon answers, then a closed pipe, which
//! memcached ignores), so they outlive the process that started them. Processes that race to start
//! the same socket serialise on a lock file beside it: exactly one daemon.
//! The binary is executed with an argument list, never through a shell.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{Client, DaemonOptions};
use crate::error::{Error, Kind, Result};
use crate::server::{Address, Server};

/// What `start` or `stop` did, as seed 000's `memcache start`/`stop` report
/// it: 1, 0 or -1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything that needed doing was done (1).
    Done,
    /// Something could not be done (0); the reasons, one per server.
    Failed(Vec<String>),
    /// Nothing needed doing (-1).
    Nothing,
}

impl Outcome {
    /// The seed's number: 1, 0 or -1.
    pub fn code(&self) -> i32 {
        match self {
            Outcome::Done => 1,
            Outcome::Failed(_) => 0,
            Outcome::Nothing => -1,
        }
    }
}

/// How long a liveness probe waits for a connection.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How often to probe a starting or stopping daemon.
const POLL: Duration = Duration::from_millis(5);

/// How long a stopping daemon gets after SIGTERM before SIGKILL, and after.
const STOP_GRACE: Duration = Duration::from_secs(5);

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

/// Starts a daemon for every socket-file server of `client` that nothing
/// answers on: what creating a handle does. Fails with the reason of the
/// first server that could not be started.
/// Nothing when the handle's [`DaemonOptions::autostart`] is off.
pub fn autostart(client: &Client) -> Result<()> {
    let options = client.options().daemon;
    if !options.autostart {
        return Ok(());
    }
    for server in client.servers().as_slice() {
        if let Address::Unix(path) = &server.address {
            ensure_unix(server, path, &options)?;
        }
    }
    Ok(())
}

/// Replaces the servers of `client` (see [`Client::set_servers`]), then
/// starts a daemon for every socket-file server nothing answers on, as
/// creating a handle does: what `mc_set_servers` and `memcache
/// setservers` do.
pub fn replace_servers<S: AsRef<str>>(client: &Client, specs: &[S]) -> Result<()> {
    client.set_servers(specs)?;
    autostart(client)
}

/// `memcache start`: starts a daemon for every local server of `client`
/// that nothing answers on.
pub fn start(client: &Client) -> Outcome {
    let options = client.options().daemon;
    let mut needed = false;
    let mut problems = Vec::new();
    for server in client.servers().as_slice() {
        if answers(&server.address) {
            continue;
        }
        needed = true;
        let started = match &server.address {
            Address::Unix(path) => ensure_unix(server, path, &options),
            Address::Tcp { .. } if !is_local(&server.address) => Err(Error::new(
                Kind::Daemon,
                format!("{server}: not a local address, cannot start a daemon for it"),
            )),
            Address::Tcp { .. } => start_daemon(server, &options),
        };
        if let Err(e) = started {
            problems.push(e.message().to_string());
        }
    }
    client.disconnect_all();
    // Servers that failed while their daemon was down are used at once.
    client.forget_dead();
    outcome(needed, problems)
}

/// `memcache stop`: terminates the local daemons serving `client` (pid
/// from `stats`, SIGTERM, SIGKILL if it lingers) and closes the handle's
/// connections, which reopen by themselves once a daemon is back.
pub fn stop(client: &Client) -> Outcome {
    let mut needed = false;
    let mut problems = Vec::new();
    // A dead mark must not keep `stop` from asking a live daemon its pid.
    client.forget_dead();
    for (n, server) in client.servers().as_slice().iter().enumerate() {
        if !answers(&server.address) {
            continue;
        }
        needed = true;
        if let Err(e) = stop_one(client, n, server) {
            problems.push(e.message().to_string());
        }
    }
    client.disconnect_all();
    outcome(needed, problems)
}

fn outcome(needed: bool, problems: Vec<String>) -> Outcome {
    match (needed, problems.is_empty()) {
        (false, _) => Outcome::Nothing,
        (true, true) => Outcome::Done,
        (true, false) => Outcome::Failed(problems),
    }
}

fn stop_one(client: &Client, n: usize, server: &Server) -> Result<()> {
    if !is_local(&server.address) {
        return Err(Error::new(
            Kind::Daemon,
            format!("{server}: a remote daemon, not stopped"),
        ));
    }
    let stats = client.server_stats(n, None)?;
    let pid = stats
        .iter()
        .find(|(name, _)| name == "pid")
        .and_then(|(_, v)| v.parse::<libc::pid_t>().ok())
        .filter(|&pid| pid > 1)
        .ok_or_else(|| Error::new(Kind::Daemon, format!("{server}: its stats give no pid")))?;
    // The kernel knows who listens; the stats are only what the server says.
    let serves = match &server.address {
        Address::Unix(path) => peer_pid(path) == Some(pid),
        Address::Tcp { port, .. } => listens_on(pid, *port),
    };
    if !serves {
        return Err(Error::new(
            Kind::Daemon,
            format!("{server}: not stopped: its stats name pid {pid}, which does not serve it"),
        ));
    }
    // Only a memcached, and only one of this user's: a program that merely
    // answers like memcached, or another user's daemon (even for root), is
    // not ours to end.
    if let Err(why) = is_our_memcached(pid) {
        return Err(Error::new(
            Kind::Daemon,
            format!("{server}: not stopped: pid {pid} {why}"),
        ));
    }
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        // SAFETY: kill has no memory preconditions.
        if unsafe { libc::kill(pid, signal) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Ok(());
            }
            return Err(Error::new(
                Kind::Daemon,
                format!("{server}: cannot signal memcached (pid {pid}): {e}"),
            ));
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if exited(pid) {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }
    Err(Error::new(
        Kind::Daemon,
        format!("{server}: memcached (pid {pid}) did not exit"),
    ))
}

/// Is process `pid` a memcached (by its executable's file name) run by this
/// process's effective user? The reason why not, else.
fn is_our_memcached(pid: libc::pid_t) -> std::result::Result<(), String> {
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
fn peer_pid(path: &Path) -> Option<libc::pid_t> {
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
fn listens_on(pid: libc::pid_t, port: u16) -> bool {
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
fn exited(pid: libc::pid_t) -> bool {
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

/// Makes sure a daemon answers on socket file `path`: under the lock file
/// beside it, checks again, removes a stale socket file, starts one.
fn ensure_unix(server: &Server, path: &Path, options: &DaemonOptions) -> Result<()> {
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
fn lock_beside(server: &Server, path: &Path) -> Result<File> {
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
fn arguments(server: &Server, options: &DaemonOptions) -> Vec<OsString> {
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
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // memcached refuses to run as root unless told which user to be.
        args.extend(["-u".into(), "root".into()]);
    }
    args.extend(options.args.iter().map(OsString::from));
    args
}

/// Starts memcached for `server`, detached, and waits until it answers.
///
/// The daemon is a grandchild: the child makes a new session, forks, and
/// exits, so the daemon is reparented to init (never a zombie of ours) and
/// survives this process. Until it answers, its stderr is a pipe to us, so
/// a daemon that exits at once (bad option, address in use) is reported with
/// its own message.
fn start_daemon(server: &Server, options: &DaemonOptions) -> Result<()> {
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

fn set_nonblocking(file: &impl AsRawFd) {
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
fn mark_descriptors_close_on_exec(open_max: libc::c_int) {
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
