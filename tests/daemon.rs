//! Local daemons: autostart on socket files, start, stop, stale sockets,
//! races between processes, daemons outliving their starter.

mod support;

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use memcache::daemon::{self, Outcome};
use memcache::{registry, Client, Kind, Options, Status};
use support::{free_port, TempDir};

/// The pid of the daemon serving server 0 of `client`.
fn daemon_pid(client: &Client) -> u32 {
    client
        .server_stats(0, None)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "pid")
        .unwrap()
        .1
        .parse()
        .unwrap()
}

/// Is process `pid` running? A zombie with no threads left is not: a
/// daemon reparented to init stays one until init gets round to reaping it.
fn alive(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let zombie = status
        .lines()
        .any(|l| l.starts_with("State:") && l.contains('Z'));
    let threads: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map_or(0, |t| t.trim().parse().unwrap());
    !(zombie && threads <= 1)
}

/// Stops whatever daemon serves `spec` when dropped, so no test leaves one.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(c) = Client::new(&[&self.0]) {
            daemon::stop(&c);
        }
    }
}

fn create(spec: &str) -> Client {
    let id = registry::create(&[spec], Options::default()).unwrap();
    let client = registry::get(id).unwrap();
    registry::remove(id).unwrap();
    std::sync::Arc::try_unwrap(client).unwrap()
}

#[test]
fn autostart_on_absolute_and_marked_socket_names() {
    let dir = TempDir::new("auto");
    for spec in [
        dir.path().join("abs.sock").display().to_string(),
        format!("|{}|", dir.path().join("bar.sock").display()),
        format!("={}", dir.path().join("eq.sock").display()),
    ] {
        let path = spec.trim_matches(['|', '=']).to_string();
        let _cleanup = Cleanup(path.clone());
        assert!(!Path::new(&path).exists());
        let c = create(&spec);
        assert!(Path::new(&path).exists(), "{path} made");
        assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
        assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
        // A second handle finds the running daemon and its data.
        let again = create(&spec);
        assert_eq!(again.get(b"k").unwrap().unwrap().value, b"v");
        assert_eq!(daemon_pid(&again), daemon_pid(&c));
        // Owner-only socket by default.
        let mode = std::fs::metadata(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o700, "{path}");
    }
}

#[test]
fn autostart_on_a_relative_name_in_a_child_process() {
    // A relative name is relative to the working directory; the test runs
    // it in a child (re-executing this test binary) started in a temp dir.
    if let Ok(dir) = std::env::var("MC_DAEMON_CHILD_RELATIVE") {
        std::env::set_current_dir(dir).unwrap();
        let c = create("./rel.sock");
        c.set(b"from-child", b"yes", 0, 0).unwrap();
        return;
    }
    let dir = TempDir::new("rel");
    let path = dir.path().join("rel.sock");
    let _cleanup = Cleanup(path.display().to_string());
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "autostart_on_a_relative_name_in_a_child_process",
            "--nocapture",
        ])
        .env("MC_DAEMON_CHILD_RELATIVE", dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // The child has exited; its daemon and data live on.
    let c = Client::new(&[path.display().to_string()]).unwrap();
    assert_eq!(c.get(b"from-child").unwrap().unwrap().value, b"yes");
    let pid = daemon_pid(&c);
    assert!(alive(pid));
    assert_eq!(daemon::stop(&c), Outcome::Done);
    assert!(!alive(pid));
}

#[test]
fn four_processes_racing_to_autostart_one_socket_share_one_daemon() {
    if let Ok(path) = std::env::var("MC_DAEMON_CHILD_RACE") {
        let c = create(&path);
        let me = std::process::id().to_string();
        c.set(me.as_bytes(), b"here", 0, 0).unwrap();
        println!("PID {}", daemon_pid(&c));
        return;
    }
    let dir = TempDir::new("race");
    let path = dir.path().join("race.sock").display().to_string();
    let _cleanup = Cleanup(path.clone());
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "four_processes_racing_to_autostart_one_socket_share_one_daemon",
                    "--nocapture",
                ])
                .env("MC_DAEMON_CHILD_RACE", &path)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut pids = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .lines()
            .find_map(|l| l.strip_prefix("PID "))
            .unwrap_or_else(|| panic!("no PID line in {text}"));
        pids.push(pid.to_string());
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "one daemon for all four: {pids:?}");
    let c = Client::new(&[&path]).unwrap();
    let stats = c.server_stats(0, None).unwrap();
    let items = stats.iter().find(|(k, _)| k == "curr_items").unwrap();
    assert_eq!(items.1, "4");
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = TempDir::new("stale");
    let path = dir.path().join("stale.sock");
    drop(UnixListener::bind(&path).unwrap()); // leaves the file, no listener
    assert!(path.exists());
    // A child forked by a parallel test may hold the listener until it
    // execs: wait until the file is really stale.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::os::unix::net::UnixStream::connect(&path).is_ok() {
        assert!(Instant::now() < deadline, "listener still open");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _cleanup = Cleanup(path.display().to_string());
    let c = create(&path.display().to_string());
    assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
}

#[test]
fn start_and_stop_report_what_they_did() {
    let dir = TempDir::new("startstop");
    let path = dir.path().join("ss.sock").display().to_string();
    let _cleanup = Cleanup(path.clone());
    let c = create(&path);
    c.set(b"k", b"v", 0, 0).unwrap();
    assert_eq!(daemon::start(&c).code(), -1, "already served");
    let pid = daemon_pid(&c);
    assert_eq!(daemon::stop(&c).code(), 1);
    assert!(!alive(pid));
    assert_eq!(daemon::stop(&c).code(), -1, "nothing running");
    let e = c.stats(None).unwrap_err();
    assert_eq!(e.kind(), Kind::Io);
    assert!(
        e.message()
            .starts_with(&format!("{path}: cannot connect: ")),
        "{}",
        e.message()
    );
    assert_eq!(daemon::start(&c).code(), 1);
    // The same handle works again; the new daemon has none of the old data.
    assert_eq!(c.get(b"k").unwrap(), None);
    assert_ne!(daemon_pid(&c), pid);
}

#[test]
fn a_local_tcp_port_is_started_and_stopped() {
    let spec = format!("127.0.0.1:{}", free_port());
    let _cleanup = Cleanup(spec.clone());
    let c = Client::new(&[&spec]).unwrap();
    assert_eq!(c.get(b"k").unwrap_err().kind(), Kind::Io);
    assert_eq!(daemon::start(&c), Outcome::Done);
    assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
    let pid = daemon_pid(&c);
    assert_eq!(daemon::stop(&c), Outcome::Done);
    assert!(!alive(pid));
    assert_eq!(daemon::stop(&c), Outcome::Nothing);
}

#[test]
fn start_fails_with_the_daemons_own_message() {
    let spec = format!("127.0.0.1:{}", free_port());
    let c = Client::new(&[&spec]).unwrap();
    let mut options = c.options();
    options.daemon.args = vec!["-c".into(), "notanumber".into()];
    options.daemon.start_timeout = Duration::from_secs(2);
    c.set_options(options).unwrap();
    let started = Instant::now();
    match daemon::start(&c) {
        Outcome::Failed(problems) => {
            assert_eq!(problems.len(), 1);
            assert!(
                problems[0].starts_with(&format!("{spec}: memcached exited at once: ")),
                "{problems:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn autostart_fails_clearly_without_the_binary() {
    let dir = TempDir::new("nobin");
    let path = dir.path().join("x.sock").display().to_string();
    let mut options = Options::default();
    options.daemon.binary = "/nonexistent/memcached".into();
    let e = registry::create(&[&path], options).unwrap_err();
    assert_eq!(e.kind(), Kind::Daemon);
    assert_eq!(
        e.message(),
        format!(
            "{path}: cannot run /nonexistent/memcached: No such file or directory (os error 2) \
             (install memcached, or set MEMCACHED to its path)"
        )
    );
}

#[test]
fn autostart_fails_clearly_in_a_missing_directory() {
    let dir = TempDir::new("nodir");
    let path = dir.path().join("missing/x.sock").display().to_string();
    let e = registry::create(&[&path], Options::default()).unwrap_err();
    assert_eq!(e.kind(), Kind::Daemon);
    assert!(
        e.message()
            .starts_with(&format!("{path}: cannot open the lock file {path}.lock: ")),
        "{}",
        e.message()
    );
}

/// A process that answers `stats` with its own pid on a TCP port, as a
/// program that is not memcached might (a test double, a proxy): a
/// python3 one-liner, so it is a real other process.
fn impostor(port: u16) -> std::process::Child {
    let script = format!(
        "import os,socket\n\
         s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1',{port})); s.listen(8)\n\
         while True:\n\
         \x20   c,_=s.accept(); c.recv(4096)\n\
         \x20   c.sendall(b'STAT pid %d\\r\\nEND\\r\\n' % os.getpid()); c.close()\n"
    );
    let child = Command::new("python3")
        .args(["-c", &script])
        .spawn()
        .expect("python3");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "impostor did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn stop_never_signals_a_process_that_is_not_a_memcached() {
    let port = free_port();
    let mut fake = impostor(port);
    let c = Client::new(&[format!("127.0.0.1:{port}")]).unwrap();
    let pid = fake.id();
    let Outcome::Failed(why) = daemon::stop(&c) else {
        panic!("stop did not fail");
    };
    assert_eq!(why.len(), 1);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(
        why[0],
        format!(
            "127.0.0.1:{port}: not stopped: pid {pid} is not a memcached (it runs {})",
            exe.display()
        )
    );
    assert_eq!(daemon::stop(&c).code(), 0);
    assert_eq!(fake.try_wait().unwrap(), None, "the impostor was signalled");
    fake.kill().unwrap();
    fake.wait().unwrap();
}

#[test]
fn stop_never_signals_another_users_memcached() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: only root can start a memcached as another user here");
        return;
    }
    let port = free_port();
    let spec = format!("127.0.0.1:{port}");
    let mut other = Command::new(support::memcached_binary())
        .args([
            "-u",
            "nobody",
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
        ])
        .spawn()
        .unwrap();
    let c = Client::new(&[&spec]).unwrap();
    let start = Instant::now();
    while c.version().is_err() {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = other.id();
    let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        daemon::stop(&c),
        Outcome::Failed(vec![format!(
            "{spec}: not stopped: pid {pid} is run by user {uid}, not by this user (0)"
        )])
    );
    assert_eq!(
        other.try_wait().unwrap(),
        None,
        "another user's memcached was signalled"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn a_lock_file_planted_as_a_symbolic_link_is_not_followed() {
    let dir = TempDir::new("locklink");
    let path = dir.path().join("s.sock");
    let target = dir.path().join("planted-target");
    std::os::unix::fs::symlink(&target, dir.path().join("s.sock.lock")).unwrap();
    let spec = path.display().to_string();
    let _cleanup = Cleanup(spec.clone());
    let e = registry::create(&[&spec], Options::default()).unwrap_err();
    assert_eq!(e.kind(), Kind::Daemon);
    assert_eq!(
        e.message(),
        format!(
            "{spec}: cannot open the lock file {spec}.lock: Too many levels of symbolic links \
             (os error 40)"
        )
    );
    assert!(!target.exists(), "the link was followed");
}

#[test]
fn a_handle_made_without_autostart_starts_nothing() {
    let dir = TempDir::new("noauto");
    let path = dir.path().join("n.sock");
    let spec = path.display().to_string();
    let _cleanup = Cleanup(spec.clone());
    let mut options = Options::default();
    options.daemon.autostart = false;
    let id = registry::create(&[&spec], options).unwrap();
    let c = registry::get(id).unwrap();
    assert!(!path.exists());
    assert_eq!(daemon::stop(&c), Outcome::Nothing);
    assert!(!path.exists());
    assert_eq!(c.get(b"k").unwrap_err().kind(), Kind::Io);
    // start still starts one when asked.
    assert_eq!(daemon::start(&c), Outcome::Done);
    assert_eq!(c.set(b"k", b"v", 0, 0), Ok(Status::Stored));
    assert_eq!(daemon::stop(&c), Outcome::Done);
    registry::remove(id).unwrap();
}

/// The server's clock (its `time` stat).
fn server_time(c: &Client) -> i64 {
    support::stat_u64(c, "time") as i64
}

#[test]
fn a_persistent_daemon_keeps_its_items_across_stop_and_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("persist");
    let path = dir.path().join("p.sock");
    let spec = path.display().to_string();
    let _cleanup = Cleanup(spec.clone());
    let mut options = Options::default();
    options.daemon.persist = true;
    let id = registry::create(&[&spec], options).unwrap();
    let c = registry::get(id).unwrap();
    assert_eq!(c.set(b"cart", b"3 apples", 7, 1000), Ok(Status::Stored));
    assert_eq!(c.set(b"forever", b"f", 0, 0), Ok(Status::Stored));
    let ttl_before = c.ttl(b"cart").unwrap().unwrap();
    let time_before = server_time(&c);
    let memory = dir.path().join("p.sock.mem");
    let mode = std::fs::metadata(&memory).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "owner-only: {mode:o}");
    assert_eq!(std::fs::metadata(&memory).unwrap().len(), 64 << 20);
    let pid = daemon_pid(&c);
    assert_eq!(daemon::stop(&c), Outcome::Done);
    assert!(!alive(pid));
    assert_eq!(c.get(b"cart").unwrap_err().kind(), Kind::Io);
    assert_eq!(daemon::start(&c), Outcome::Done);
    assert_ne!(daemon_pid(&c), pid);
    let item = c.get(b"cart").unwrap().unwrap();
    assert_eq!((item.value.as_slice(), item.flags), (&b"3 apples"[..], 7));
    assert_eq!(c.get(b"forever").unwrap().unwrap().value, b"f");
    assert_eq!(c.ttl(b"forever"), Ok(Some(-1)));
    // The lifetime went on while the daemon was down, by the server's
    // clock: what is left is what was left, less the time that passed.
    let passed = server_time(&c) - time_before;
    let ttl_after = c.ttl(b"cart").unwrap().unwrap();
    assert!(
        (ttl_before - passed - 1..=ttl_before - passed + 1).contains(&ttl_after),
        "before {ttl_before}, after {ttl_after}, {passed} s passed"
    );
    assert_eq!(daemon::stop(&c), Outcome::Done);
    registry::remove(id).unwrap();
    // Without -persist: a stopped daemon's items are gone.
    let plain = dir.path().join("plain.sock").display().to_string();
    let _cleanup_plain = Cleanup(plain.clone());
    let c = create(&plain);
    c.set(b"k", b"v", 0, 0).unwrap();
    assert_eq!(daemon::stop(&c), Outcome::Done);
    assert_eq!(daemon::start(&c), Outcome::Done);
    assert_eq!(c.get(b"k"), Ok(None));
    assert!(!dir.path().join("plain.sock.mem").exists());
}
