//! Test support: real memcached servers on free ports or temporary Unix
//! sockets, and a hand-written fake server for the faults a real one cannot
//! produce (hangs, garbage, cut connections).

#![allow(dead_code)] // each test file uses its own part of this module

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
                Listen::Port(port) => TcpStream::connect(("127.0.0.1", *port)).is_ok(),
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
