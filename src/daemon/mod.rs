//! Local memcached daemons: find, start and stop the ones serving a handle.
//!
//! A socket-file server that nothing answers on is started when its handle
//! is created (autostart), so `memcache create ./state.sock` just works for
//! a CGI program. Daemons are detached (new session, reparented to init, no
//! inherited descriptors, stdin and stdout on /dev/null; stderr is a pipe
//! to the starter until the daemon answers, then a closed pipe, which
//! memcached ignores), so they outlive the process that started them.
//! Processes that race to start the same socket serialise on a lock file
//! beside it: exactly one daemon.
//! The binary is executed with an argument list, never through a shell.
//!
//! `probe`: is a daemon there, whose is it, has it exited; `spawn`:
//! starting one (lock file, stale socket, detached process).

mod probe;
mod spawn;

use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::{Error, Kind, Result};
use crate::server::{Address, Server};

use probe::{answers, exited, is_our_memcached, is_persistent, listens_on, peer_pid};
use spawn::{ensure_unix, start_daemon};

pub use probe::is_local;

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

/// How often to probe a starting or stopping daemon.
pub(super) const POLL: Duration = Duration::from_millis(5);

/// How long a stopping daemon gets after SIGTERM before SIGKILL, and after.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts a daemon for every socket-file server of `client` that nothing
/// answers on: what creating a handle does. Fails with the reason of the
/// first server that could not be started.
/// Nothing when the handle's [`crate::client::DaemonOptions::autostart`] is off.
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
    // A daemon with a memory file (-e) is shut down gracefully, SIGUSR1:
    // it saves its items' metadata so a restart finds them all. Any other
    // ends with SIGTERM. SIGKILL when it lingers.
    let first = if is_persistent(pid) {
        libc::SIGUSR1
    } else {
        libc::SIGTERM
    };
    for signal in [first, libc::SIGKILL] {
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
