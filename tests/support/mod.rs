//! Test support: real memcached servers on free ports or temporary Unix
//! sockets, and a hand-written fake server for the faults a real one cannot
//! produce (hangs, garbage, cut connections).

#![allow(dead_code)] // each test file uses its own part of this module

mod certs;
mod cprog;
#[allow(unused_imports)] // the C and peer tests use it
pub use cprog::{library_dir, run_c};
mod checks;
#[allow(unused_imports)] // the TLS tests use it
pub use certs::Pki;
#[allow(unused_imports)] // each test file uses its own part
pub use checks::*;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The memcached binary: `$MEMCACHED`, or `memcached` on the PATH.
pub fn memcached_binary() -> String {
    std::env::var("MEMCACHED").unwrap_or_else(|_| "memcached".to_string())
}

/// A new empty directory under the system's temporary directory, removed
/// when the value is dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mc-test-{tag}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

enum Listen {
    Port(u16),
    Socket(PathBuf, TempDir),
}

/// A real memcached started for a test and killed when dropped.
pub struct Memcached {
    child: Option<Child>,
    listen: Listen,
    extra: Vec<String>,
}

impl Memcached {
    /// memcached on a free loopback TCP port.
    pub fn tcp() -> Memcached {
        Memcached::tcp_with(&[])
    }

    /// memcached on a free loopback TCP port, with extra arguments.
    pub fn tcp_with(extra: &[&str]) -> Memcached {
        for _ in 0..20 {
            let port = free_port();
            let mut m = Memcached {
                child: None,
                listen: Listen::Port(port),
                extra: extra.iter().map(|s| s.to_string()).collect(),
            };
            if m.try_start() {
                return m;
            }
        }
        panic!("could not start memcached on a free port");
    }

    /// memcached on a Unix socket in a new temporary directory.
    pub fn unix() -> Memcached {
        let dir = TempDir::new("sock");
        let path = dir.path().join("mc.sock");
        let mut m = Memcached {
            child: None,
            listen: Listen::Socket(path, dir),
            extra: Vec::new(),
        };
        assert!(m.try_start(), "could not start memcached on a Unix socket");
        m
    }

    /// The server spec to give the client: "127.0.0.1:PORT" or the path.
    pub fn spec(&self) -> String {
        match &self.listen {
            Listen::Port(port) => format!("127.0.0.1:{port}"),
            Listen::Socket(path, _) => path.display().to_string(),
        }
    }

    /// The daemon's pid, or None once killed.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the daemon (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Listen::Socket(path, _) = &self.listen {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Starts a new daemon on the same port or socket (empty, as a restart is).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.try_start() {
            assert!(Instant::now() < deadline, "could not restart memcached");
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn try_start(&mut self) -> bool {
        let mut cmd = Command::new(memcached_binary());
        match &self.listen {
            Listen::Port(port) => {
                cmd.args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0"]);
            }
            Listen::Socket(path, _) => {
                cmd.arg("-s").arg(path).args(["-a", "0700"]);
            }
        }
        cmd.args(["-m", "64", "-t", "2"]).args(&self.extra);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.args(["-u", "root"]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {}: {e} (install memcached)", memcached_binary())
            });
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return false; // exited: port taken, most likely
            }
            let up = match &self.listen {
                // The listener must be this child's: a connect alone would
                // also succeed on another process's server that holds the
                // port (a concurrent test run), which this child then fails
                // to bind, and the test would talk to a stranger.
                Listen::Port(port) => {
                    TcpStream::connect(("127.0.0.1", *port)).is_ok()
                        && listens_on(child.id(), *port)
                }
                Listen::Socket(path, _) => UnixStream::connect(path).is_ok(),
            };
            if up {
                self.child = Some(child);
                return true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port nothing listens on right now.
/// Whether process `pid` holds the socket listening on 127.0.0.1:`port`
/// (Linux: the listener's inode in /proc/net/tcp among the process's
/// file descriptors). True where /proc cannot tell.
fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return true;
    };
    let local = format!("0100007F:{port:04X}");
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
            .then(|| fields.get(9).map(|i| format!("socket:[{i}]")))
            .flatten()
    });
    let Some(inode) = inode else {
        return false;
    };
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return true;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| target.to_string_lossy() == inode)
    })
}

/// Stores `keys` (value "x", flags 0) with one `set_many`, asserting that
/// every one was stored.
pub fn set_all(c: &memcache::Client, keys: &[String]) {
    let items: Vec<(&String, &[u8], u32)> = keys.iter().map(|k| (k, &b"x"[..], 0)).collect();
    let outcomes = c.set_many(&items, 0).unwrap();
    assert!(
        outcomes.iter().all(|s| *s == Ok(memcache::Status::Stored)),
        "{outcomes:?}"
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// What the fake server does with each connection.
#[derive(Clone)]
pub enum Fake {
    /// Accepts and reads, never answers.
    Hang,
    /// Answers every request (whatever arrives in one read) with these bytes.
    Reply(Vec<u8>),
    /// Answers the first request with these bytes after a delay; reads on.
    ReplyAfter(Duration, Vec<u8>),
    /// Accepts, reads one request, and closes the connection.
    Cut,
}

/// A hand-written fake memcached on a loopback port, for faults only. Its
/// thread serves until the test process ends.
pub struct FakeServer {
    pub port: u16,
}

impl FakeServer {
    pub fn start(behaviour: Fake) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let behaviour = behaviour.clone();
                thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    let mut first = true;
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        match &behaviour {
                            Fake::Hang => {}
                            Fake::Reply(bytes) => {
                                let _ = stream.write_all(bytes);
                            }
                            Fake::ReplyAfter(delay, bytes) => {
                                if first {
                                    thread::sleep(*delay);
                                    let _ = stream.write_all(bytes);
                                }
                            }
                            Fake::Cut => return,
                        }
                        first = false;
                    }
                });
            }
        });
        FakeServer { port }
    }

    pub fn spec(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

// ---------------------------------------------------------------------------
// Added for tests/client.rs, tests/faults.rs and tests/multi.rs.
// ---------------------------------------------------------------------------

/// One step of a [`ScriptedServer`] connection.
#[derive(Clone, Debug)]
pub enum Step {
    /// Reads until what arrived ends with "\r\n" (one small request).
    Read,
    /// Writes these bytes.
    Write(Vec<u8>),
    /// Waits this long.
    Sleep(Duration),
    /// Closes the connection.
    Close,
}

/// A fake server whose `n`-th accepted connection (from 0) plays
/// `scripts[n]` (the last script for every later connection). After the
/// last step of a script that does not close, the connection is kept open
/// and read without an answer (a hang). It counts the connections it
/// accepted, so a test can tell a reused connection from a new one.
pub struct ScriptedServer {
    pub port: u16,
    accepted: std::sync::Arc<AtomicUsize>,
}

impl ScriptedServer {
    pub fn start(scripts: Vec<Vec<Step>>) -> ScriptedServer {
        assert!(!scripts.is_empty(), "a script per connection");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let script = scripts[n.min(scripts.len() - 1)].clone();
                thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    for step in script {
                        match step {
                            Step::Read => {
                                let mut got = Vec::new();
                                while !got.ends_with(b"\r\n") {
                                    match stream.read(&mut buf) {
                                        Ok(0) | Err(_) => return,
                                        Ok(k) => got.extend_from_slice(&buf[..k]),
                                    }
                                }
                            }
                            Step::Write(bytes) => {
                                if stream.write_all(&bytes).is_err() {
                                    return;
                                }
                            }
                            Step::Sleep(d) => thread::sleep(d),
                            Step::Close => return,
                        }
                    }
                    while let Ok(k) = stream.read(&mut buf) {
                        if k == 0 {
                            return;
                        }
                    }
                });
            }
        });
        ScriptedServer { port, accepted }
    }

    pub fn spec(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A loopback listener that never accepts, with its accept queue already
/// full: a new connection attempt gets no answer (Linux drops the SYN), so
/// connecting times out without any traffic leaving the machine.
pub struct FullBacklog {
    listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl FullBacklog {
    pub fn new() -> FullBacklog {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        // SAFETY: a valid listening socket; listen(2) again only changes
        // its backlog (0: one queued connection at most).
        let rc = unsafe { libc::listen(listener.as_raw_fd(), 0) };
        assert_eq!(rc, 0, "listen");
        let addr = listener.local_addr().expect("addr");
        let mut queued = Vec::new();
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(s) => queued.push(s),
                Err(_) => break,
            }
            assert!(queued.len() < 64, "the backlog never filled");
        }
        FullBacklog {
            listener,
            _queued: queued,
        }
    }

    pub fn spec(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().expect("addr").port()
    }
}

/// The version memcached reports of itself (`memcached -V`: "memcached X").
pub fn memcached_version() -> String {
    let out = Command::new(memcached_binary())
        .arg("-V")
        .output()
        .expect("memcached -V");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    text.trim()
        .strip_prefix("memcached ")
        .expect("\"memcached <version>\"")
        .to_string()
}

impl Memcached {
    /// Like [`Memcached::tcp_with`], but also makes sure the daemon that
    /// answers on the port is this one (its `stats` pid is our child's): a
    /// port picked by [`free_port`] can be taken by a test running in
    /// parallel before our daemon binds it, and then the readiness probe
    /// connects to the other test's daemon.
    pub fn tcp_checked(extra: &[&str]) -> Memcached {
        for _ in 0..20 {
            let mut m = Memcached::tcp_with(extra);
            if m.answers_itself() {
                return m;
            }
        }
        panic!("could not start memcached on a port of its own");
    }

    fn answers_itself(&mut self) -> bool {
        let Listen::Port(port) = self.listen else {
            return true;
        };
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        let pid = child.id();
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        if s.write_all(b"stats\r\n").is_err() {
            return false;
        }
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        while !reply.ends_with(b"END\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return false,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&reply).contains(&format!("STAT pid {pid}\r\n"))
    }
}

/// A Unix socket listener (in a new temporary directory) that never
/// accepts, with its queue already full: a blocking connect waits.
pub struct FullUnixBacklog {
    path: PathBuf,
    _listener: std::os::unix::net::UnixListener,
    _queued: Vec<std::os::fd::OwnedFd>,
    _dir: TempDir,
}

impl FullUnixBacklog {
    pub fn new() -> FullUnixBacklog {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::net::UnixListener;
        let dir = TempDir::new("full");
        let path = dir.path().join("full.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        // SAFETY: a valid listening socket; listen(2) again only changes
        // its backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        // SAFETY: an all-zero sockaddr_un is valid; the path is copied in
        // within bounds (TempDir paths are short).
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_os_str().as_bytes();
        assert!(bytes.len() < addr.sun_path.len());
        for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        let mut queued = Vec::new();
        loop {
            // Non-blocking sockets: connect fails with EAGAIN once full.
            // SAFETY: plain socket(2) and connect(2) on a fresh fd that an
            // OwnedFd takes over at once.
            let fd = unsafe {
                libc::socket(
                    libc::AF_UNIX,
                    libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    0,
                )
            };
            assert!(fd >= 0, "socket");
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            let rc = unsafe {
                libc::connect(
                    fd,
                    (&addr as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                let e = std::io::Error::last_os_error();
                assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
                break;
            }
            queued.push(owned);
            assert!(queued.len() < 64, "the backlog never filled");
        }
        FullUnixBacklog {
            path,
            _listener: listener,
            _queued: queued,
            _dir: dir,
        }
    }

    pub fn spec(&self) -> String {
        self.path.display().to_string()
    }
}

// ---------------------------------------------------------------------------
// Added for tests/tcl.rs and tests/python_interop.rs.
// ---------------------------------------------------------------------------

/// The `libmemcache.so` to test: the one the running `cargo test` built.
///
/// A test binary is `target/<profile>/deps/NAME-HASH`. cargo builds the
/// library's cdylib into `deps/` next to it, but only `cargo build` copies
/// it up to `target/<profile>/`, so the copy there can be older than the
/// code under test: `deps/` first, `target/<profile>/` as the fallback (the
/// rule of `tests/c_api.rs`).
pub fn library_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    let deps = exe
        .parent()
        .expect("the test binary lives in target/<profile>/deps");
    let profile = deps
        .parent()
        .expect("the test binary lives in target/<profile>/deps");
    let found = [deps, profile]
        .into_iter()
        .map(|dir| dir.join("libmemcache.so"))
        .find(|lib| lib.is_file());
    let lib = found.unwrap_or_else(|| {
        panic!(
            "libmemcache.so is missing from {} (and {}): run `cargo build` first",
            deps.display(),
            profile.display()
        )
    });
    // A C program linked against it needs it by its SONAME,
    // libmemcache.so.<major>: `make install` makes that link; here, beside
    // the build. (Tests make it at once: an existing one is fine.)
    let soname = lib.with_file_name(format!(
        "libmemcache.so.{}",
        env!("CARGO_PKG_VERSION_MAJOR")
    ));
    if std::fs::symlink_metadata(&soname).is_err() {
        let _ = std::os::unix::fs::symlink("libmemcache.so", &soname);
    }
    lib
}

/// What a finished child process said.
pub struct Output {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` (stdin from /dev/null, stdout and stderr captured while
/// it runs), killing it after `limit`: then it panics with what the
/// command had printed so far.
pub fn run_with_limit(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
        thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child process") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} did not finish within {} s; killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
                limit.as_secs(),
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// The absolute path of `program` (a name looked up on the PATH, or a
/// path), or `None` when there is no such program.
pub fn which(program: &str) -> Option<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", "command -v \"$1\"", "sh", program])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = path.trim();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

/// `path` as one element of a Tcl list (for `TCLLIBPATH`).
pub fn tcl_list_element(path: &Path) -> String {
    let mut out = String::new();
    for c in path.display().to_string().chars() {
        if c.is_whitespace() || "{}\\\"[]$;".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Compiles the C source `source` (relative to the crate) into `exe` with
/// `-std=c11 -Wall -Wextra -Wpedantic -Werror`, the crate's `include/`, and
/// `extra` after the source (libraries, optimisation). Any warning fails.
pub fn compile_c(source: &str, exe: &Path, extra: &[&std::ffi::OsStr]) {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let output = Command::new(&cc)
        .current_dir(crate_dir) // so that messages say tests/c/<program>.c:LINE
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-g",
        ])
        .arg("-I")
        .arg(Path::new(crate_dir).join("include"))
        .arg(source)
        .arg("-o")
        .arg(exe)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e} (install a C compiler or set CC)"));
    let messages = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && messages.trim().is_empty(),
        "{cc} failed or warned on {source} ({}):\n{messages}",
        output.status
    );
}
