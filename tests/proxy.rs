//! Through a real twemproxy (Debian's `nutcracker`, started here on a free
//! port in front of two memcached): what works, what fails and how, and
//! that the command after a failure is answered correctly. twemproxy
//! forwards the classic key commands; it closes the connection on the meta
//! commands and on stats, version and flush_all. `valid` and `flags` then
//! use classic commands (learned once per server); `ttl` says it cannot
//! tell.

mod support;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use memcache::{Client, FetchOptions, Kind, Status};
use support::{free_port, Memcached, TempDir};

/// A nutcracker process, killed on drop.
struct Proxy {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nutcracker in front of `servers`, or None (with the reason printed)
/// when it is not installed; under CI its absence fails.
fn proxy(servers: &[&Memcached]) -> Option<Proxy> {
    let binary = std::env::var("NUTCRACKER").unwrap_or_else(|_| "nutcracker".to_string());
    if Command::new(&binary).arg("--version").output().is_err() {
        let why = format!("{binary} not found (Debian: apt-get install nutcracker)");
        assert!(std::env::var_os("CI").is_none(), "{why}");
        println!("skipped: {why}");
        return None;
    }
    let dir = TempDir::new("proxy");
    let port = free_port();
    let pool: String = servers
        .iter()
        .map(|s| format!("   - {}:1\n", s.spec()))
        .collect();
    let conf = dir.path().join("nutcracker.yml");
    std::fs::write(
        &conf,
        format!(
            "pool:\n  listen: 127.0.0.1:{port}\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 2000\n  servers:\n{pool}"
        ),
    )
    .unwrap();
    // Its statistics port too (default 22222, maybe taken).
    let stats_port = free_port();
    let child = Command::new(&binary)
        .args(["-a", "127.0.0.1", "-s", &stats_port.to_string()])
        .arg("-c")
        .arg(&conf)
        .arg("-o")
        .arg(dir.path().join("nutcracker.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut proxy = Proxy {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            proxy.child.try_wait().unwrap().is_none(),
            "nutcracker exited (port {port} taken?)"
        );
        assert!(Instant::now() < deadline, "nutcracker did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(proxy)
}

#[test]
fn key_commands_work_through_twemproxy_and_questions_fall_back_to_classic() {
    let (a, b) = (Memcached::tcp_checked(&[]), Memcached::tcp_checked(&[]));
    let Some(p) = proxy(&[&a, &b]) else { return };
    let spec = format!("127.0.0.1:{}", p.port);
    let c = Client::new(&[&spec]).unwrap();

    // The classic key commands, single and many.
    assert_eq!(c.set(b"k", b"v", 7, 0), Ok(Status::Stored));
    assert_eq!(c.add(b"k", b"x", 0, 0), Ok(Status::NotStored));
    assert_eq!(c.append(b"k", b"2"), Ok(Status::Stored));
    assert_eq!(c.prepend(b"k", b"1"), Ok(Status::Stored));
    let item = c.get(b"k").unwrap().unwrap();
    assert_eq!((item.value.as_slice(), item.flags), (&b"1v2"[..], 7));
    assert_eq!(c.cas(b"k", b"new", 7, 0, item.cas), Ok(Status::Stored));
    assert_eq!(c.touch(b"k", 100), Ok(true));
    assert_eq!(c.set(b"n", b"41", 0, 0), Ok(Status::Stored));
    assert_eq!(c.incr(b"n", 1), Ok(Some(42)));
    assert_eq!(c.decr(b"n", 2), Ok(Some(40)));
    let keys: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    support::set_all(&c, &keys);
    assert_eq!(c.get_many(&keys).unwrap().len(), 40);
    assert!(c.delete_many(&keys).unwrap().iter().all(|&had| had));

    // update (gets, then cas or add) and lock (add).
    let stored = c.update(b"cart", 0, |item| {
        let mut cart = item.map(|i| i.value.clone()).unwrap_or_default();
        cart.extend_from_slice(b" apple");
        Ok::<_, memcache::Error>(memcache::Change::Store {
            value: cart,
            flags: 0,
        })
    });
    assert!(
        matches!(stored, Ok(memcache::Change::Store { .. })),
        "{stored:?}"
    );
    assert_eq!(c.get(b"cart").unwrap().unwrap().value, b" apple");
    let token = c.lock(b"report", 30, Duration::from_millis(100)).unwrap();
    assert_eq!(token.len(), 32);

    // Questions: the meta get fails, classic commands answer, and it is
    // remembered (the next ones go classic at once).
    assert_eq!(c.exists(b"k"), Ok(true));
    assert_eq!(c.flags(b"k"), Ok(Some(7)));
    assert_eq!(c.exists(b"nothing"), Ok(false));
    assert_eq!(c.flags(b"nothing"), Ok(None));
    let err = c.ttl(b"k").unwrap_err();
    assert_eq!(err.kind(), Kind::Client);
    assert_eq!(
        err.message(),
        format!("{spec}: cannot tell the time to live of key \"k\": the server has no meta commands (memcached before 1.6, or a proxy such as twemproxy)")
    );
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"new");

    // What twemproxy does not forward fails cleanly; the next command is
    // answered right.
    // version is forwarded (to one server behind it).
    let direct = Client::new(&[a.spec()]).unwrap().version().unwrap();
    assert_eq!(c.version().unwrap(), direct);
    for (what, failed) in ["stats", "flush_all", "unlock", "invalidate", "fetch"]
        .into_iter()
        .zip([
            c.stats(None).map(drop),
            c.flush_all(None),
            c.unlock(b"report", &token).map(drop),
            c.invalidate(b"k", None).map(drop),
            c.fetch(b"f", 60, FetchOptions::default(), || {
                Ok::<_, memcache::Error>((b"x".to_vec(), 0))
            })
            .map(drop),
        ])
    {
        let err = failed.expect_err(what);
        assert_eq!(err.kind(), Kind::Io, "{err}");
        assert_eq!(
            err.message(),
            format!("{spec}: connection closed by the server before it replied")
        );
        assert_eq!(c.get(b"k").unwrap().unwrap().value, b"new");
    }
    assert_eq!(c.delete(b"k"), Ok(true));
    assert_eq!(c.exists(b"k"), Ok(false));
}

/// Every subcommand of the Tcl ensemble through twemproxy
/// (`tests/proxy/subcommands.tcl`): it works, or fails with the
/// documented error, and the next command is answered right.
#[test]
fn every_tcl_subcommand_through_twemproxy() {
    let (a, b) = (Memcached::tcp_checked(&[]), Memcached::tcp_checked(&[]));
    let Some(p) = proxy(&[&a, &b]) else { return };
    let spec = format!("127.0.0.1:{}", p.port);
    let mut tcl = Command::new(std::env::var("TCLSH").unwrap_or_else(|_| "tclsh".into()));
    tcl.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/proxy/subcommands.tcl"
    ))
    .arg(&spec)
    .env("MEMCACHE_LIBRARY", support::library_path());
    let run = support::run_with_limit(tcl, Duration::from_secs(60));
    assert!(support::expect_ok("tclsh subcommands.tcl", &run) >= 50);
}

/// Binary keys through twemproxy: it closes the connection on the meta
/// commands; the client then finds that it answers a classic `version`,
/// and says that binary keys need meta commands. No binary key's data
/// block ever reaches it, and classic keys keep working.
#[test]
fn binary_keys_through_twemproxy_fail_clearly() {
    let (a, b) = (Memcached::tcp_checked(&[]), Memcached::tcp_checked(&[]));
    let Some(p) = proxy(&[&a, &b]) else { return };
    let spec = format!("127.0.0.1:{}", p.port);
    let c = Client::new(&[&spec]).unwrap();
    c.update_options(|o| {
        o.binary_keys = true;
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
    let no_meta = format!(
        "{spec}: the server has no meta commands (memcached before 1.6, or a proxy such as twemproxy): binary keys need them"
    );
    let err = c.set(b"a key", b"flush_all", 0, 0).unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (Kind::Client, no_meta.as_str())
    );
    assert_eq!(c.set(b"plain", b"v", 0, 0), Ok(Status::Stored));
    let err = c.get_many(&[b"plain".as_slice(), b"a key"]).unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (Kind::Client, no_meta.as_str())
    );
    assert_eq!(c.get(b"plain").unwrap().unwrap().value, b"v");
    // Nothing of the binary key's value reached the servers behind it.
    for m in [&a, &b] {
        let flushed = Client::new(&[m.spec()])
            .unwrap()
            .server_stats(0, None)
            .unwrap();
        let cmd_flush = flushed
            .iter()
            .find(|(k, _)| k == "cmd_flush")
            .map(|(_, v)| v.clone());
        assert_eq!(cmd_flush.as_deref(), Some("0"));
    }
}
