//! TLS servers (memcached `-Z`), with certificates made for the run: every
//! operation, large values and pipelines over TLS; a handle with a TLS and
//! a plain server; each way a handshake fails (an unknown CA, an expired
//! certificate, another name, a missing or foreign client certificate, a
//! server that does not speak TLS or does not answer), each an error naming
//! the server and the reason; TLS with a login; one handshake per
//! connection.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memcache::{Client, Credentials, Kind, Status, TlsOptions};
use support::{fail, stat_u64, Memcached, Pki, TempDir};

/// TLS settings trusting `pki`'s CA, with its client certificate if
/// `client`.
fn settings(pki: &Pki, client: bool) -> TlsOptions {
    TlsOptions {
        enabled: true,
        ca_file: Some(pki.path("ca.pem")),
        cert_file: client.then(|| pki.path("client.pem")),
        key_file: client.then(|| pki.path("client.key")),
        ..TlsOptions::default()
    }
}

fn client_with(specs: &[String], tls: TlsOptions) -> Client {
    let c = Client::new(specs).unwrap();
    c.update_options(|o| {
        o.tls = tls;
        o.retry_interval = Duration::ZERO;
        o.connect_timeout = Duration::from_millis(2000);
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
    c
}

#[test]
fn every_operation_round_trips_over_tls() {
    let pki = Pki::new();
    let m = Memcached::tls(&pki, "server", false, &["-I", "4m"]);
    let c = client_with(&[m.spec()], settings(&pki, false));
    assert_eq!(c.set(b"k", b"v", 7, 0), Ok(Status::Stored));
    let item = c.get(b"k").unwrap().unwrap();
    assert_eq!((item.value.as_slice(), item.flags), (&b"v"[..], 7));
    assert_eq!(c.add(b"k", b"x", 0, 0), Ok(Status::NotStored));
    assert_eq!(c.replace(b"k", b"w", 0, 0), Ok(Status::Stored));
    assert_eq!(c.append(b"k", b"]"), Ok(Status::Stored));
    assert_eq!(c.prepend(b"k", b"["), Ok(Status::Stored));
    let item = c.get(b"k").unwrap().unwrap();
    assert_eq!(item.value, b"[w]");
    assert_eq!(c.cas(b"k", b"c", 0, 0, item.cas), Ok(Status::Stored));
    assert_eq!(c.cas(b"k", b"d", 0, 0, item.cas), Ok(Status::Exists));
    assert_eq!(c.set(b"n", b"41", 0, 0), Ok(Status::Stored));
    assert_eq!(c.incr(b"n", 1), Ok(Some(42)));
    assert_eq!(c.decr(b"n", 2), Ok(Some(40)));
    assert_eq!(c.touch(b"n", 100), Ok(true));
    assert_eq!(c.delete(b"n"), Ok(true));
    assert_eq!(c.delete(b"n"), Ok(false));
    // Values larger than a TLS record (16 KiB) and than the read buffer,
    // binary, both ways.
    for size in [16 * 1024 + 1, 512 * 1024, 3 * 1024 * 1024] {
        let value: Vec<u8> = (0..size).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(c.set(b"big", &value, 0, 0), Ok(Status::Stored), "{size}");
        assert_eq!(c.get(b"big").unwrap().unwrap().value, value, "{size}");
    }
    // A pipeline of 2000 keys: one write, the replies read as they come.
    let keys: Vec<String> = (0..2000).map(|i| format!("key:{i}")).collect();
    let values: Vec<String> = keys
        .iter()
        .map(|k| format!("{k}={}", "x".repeat(300)))
        .collect();
    let items: Vec<(&String, &String, u32)> =
        keys.iter().zip(&values).map(|(k, v)| (k, v, 0)).collect();
    let stored = c.set_many(&items, 0).unwrap();
    assert!(stored.iter().all(|s| *s == Ok(Status::Stored)));
    let hits = c.get_many(&keys).unwrap();
    assert_eq!(hits.len(), 2000);
    for hit in &hits {
        let key = std::str::from_utf8(&hit.key).unwrap();
        assert_eq!(
            hit.item.value,
            format!("{key}={}", "x".repeat(300)).as_bytes()
        );
    }
    assert_eq!(c.delete_many(&keys).unwrap(), vec![true; 2000]);
    assert!(c.version().unwrap()[0].starts_with("1."));
    c.flush_all(None).unwrap();
    assert_eq!(c.get(b"k"), Ok(None));
}

#[test]
fn a_handshake_happens_only_when_a_connection_opens() {
    let pki = Pki::new();
    let m = Memcached::tls(&pki, "server", false, &[]);
    let c = client_with(&[m.spec()], settings(&pki, false));
    let before = stat_u64(&c, "total_connections");
    for i in 0..200 {
        let key = format!("k{i}");
        assert_eq!(c.set(key.as_bytes(), b"v", 0, 0), Ok(Status::Stored));
        assert_eq!(c.get(key.as_bytes()).unwrap().unwrap().value, b"v");
    }
    assert_eq!(stat_u64(&c, "total_connections"), before);
}

#[test]
fn one_handle_reaches_a_tls_server_and_a_plain_one() {
    let pki = Pki::new();
    let secure = Memcached::tls(&pki, "server", false, &[]);
    let plain = Memcached::tcp();
    let local = Memcached::unix();
    // TLS off for the handle; the server written tls:// uses it.
    let mut off = settings(&pki, false);
    off.enabled = false;
    let specs = [format!("tls://{}", secure.spec()), plain.spec()];
    let c = client_with(&specs, off);
    // TLS on for the handle; tcp:// and the socket file stay plain.
    let specs2 = [
        secure.spec(),
        format!("tcp://{}", plain.spec()),
        local.spec(),
    ];
    let c2 = client_with(&specs2, settings(&pki, true));
    for (c, n) in [(&c, 2), (&c2, 3)] {
        let keys: Vec<String> = (0..300).map(|i| format!("mixed:{i}")).collect();
        support::set_all(c, &keys);
        assert_eq!(c.get_many(&keys).unwrap().len(), 300);
        let per_server = support::stat_each_u64(c, "curr_items");
        assert_eq!(per_server.len(), n);
        assert!(per_server.iter().all(|&items| items > 0), "{per_server:?}");
        assert_eq!(c.delete_many(&keys).unwrap(), vec![true; 300]);
    }
    assert_eq!(
        c.servers().map(|s| s.name).collect::<Vec<_>>(),
        [format!("tls://{}", secure.spec()), plain.spec()]
    );
}

/// The error of a first `get` through `tls` to `m`.
fn refused(m: &Memcached, tls: TlsOptions) -> (Kind, String) {
    fail(client_with(&[m.spec()], tls).get(b"k"))
}

#[test]
fn an_untrusted_expired_or_misnamed_certificate_is_refused() {
    let pki = Pki::new();
    let good = Memcached::tls(&pki, "server", false, &[]);
    let mut other_ca = settings(&pki, false);
    other_ca.ca_file = Some(pki.path("other-ca.pem"));
    assert_eq!(
        refused(&good, other_ca),
        (
            Kind::Io,
            format!(
                "{}: TLS handshake failed: invalid peer certificate: UnknownIssuer",
                good.spec()
            )
        )
    );
    let expired = Memcached::tls(&pki, "expired", false, &[]);
    let (kind, message) = refused(&expired, settings(&pki, false));
    assert_eq!(kind, Kind::Io);
    assert!(
        message.starts_with(&format!(
            "{}: TLS handshake failed: invalid peer certificate: certificate expired",
            expired.spec()
        )),
        "{message}"
    );
    let misnamed = Memcached::tls(&pki, "wrongname", false, &[]);
    let (kind, message) = refused(&misnamed, settings(&pki, false));
    assert_eq!(kind, Kind::Io);
    assert!(
        message.starts_with(&format!(
            "{}: TLS handshake failed: invalid peer certificate: certificate not valid for name \"127.0.0.1\"",
            misnamed.spec()
        )),
        "{message}"
    );
    // The name the certificate carries, given: accepted.
    let mut named = settings(&pki, false);
    named.server_name = Some("other.example".into());
    let c = client_with(&[misnamed.spec()], named);
    assert_eq!(c.set(b"k", b"v", 0, 0), Ok(Status::Stored));
    // Verification off accepts anything (tests only).
    for m in [&expired, &misnamed] {
        let mut blind = settings(&pki, false);
        blind.ca_file = Some(pki.path("other-ca.pem"));
        blind.verify = false;
        let c = client_with(&[m.spec()], blind);
        assert_eq!(c.set(b"k", b"v", 0, 0), Ok(Status::Stored));
        assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
    }
}

#[test]
fn a_server_that_requires_a_client_certificate_refuses_none_or_a_foreign_one() {
    let pki = Pki::new();
    let m = Memcached::tls(&pki, "server", true, &[]);
    let (kind, message) = refused(&m, settings(&pki, false));
    assert_eq!(kind, Kind::Io);
    assert!(
        message.starts_with(&format!(
            "{}: TLS: the server refused the connection",
            m.spec()
        )) && message.ends_with("does it require a client certificate (-tlscert, -tlskey)?"),
        "{message}"
    );
    let mut rogue = settings(&pki, true);
    rogue.cert_file = Some(pki.path("rogue.pem"));
    rogue.key_file = Some(pki.path("rogue.key"));
    let (kind, message) = refused(&m, rogue);
    assert_eq!(kind, Kind::Io);
    assert!(
        message.starts_with(&format!("{}: TLS: ", m.spec())),
        "{message}"
    );
    let c = client_with(&[m.spec()], settings(&pki, true));
    assert_eq!(c.set(b"k", b"v", 0, 0), Ok(Status::Stored));
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
}

#[test]
fn tls_and_plain_text_do_not_mix_and_say_so() {
    let pki = Pki::new();
    let plain = Memcached::tcp();
    let (kind, message) = refused(&plain, settings(&pki, false));
    assert_eq!(kind, Kind::Io);
    assert!(
        message.starts_with(&format!("{}: TLS handshake failed: ", plain.spec()))
            && message.ends_with("(does the server speak TLS? memcached needs -Z)"),
        "{message}"
    );
    // A plain client to a TLS server: memcached closes the connection.
    let secure = Memcached::tls(&pki, "server", false, &[]);
    let (kind, _) = fail(client_with(&[secure.spec()], TlsOptions::default()).get(b"k"));
    assert_eq!(kind, Kind::Io);
}

#[test]
fn a_handshake_is_bounded_by_the_connect_timeout() {
    let pki = Pki::new();
    // Accepts (the kernel does) and never answers: a hung server.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let spec = silent.local_addr().unwrap().to_string();
    let c = client_with(std::slice::from_ref(&spec), settings(&pki, false));
    c.update_options(|o| {
        o.connect_timeout = Duration::from_millis(300);
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
    assert_eq!(
        fail(c.get(b"k")),
        (
            Kind::Timeout,
            format!("{spec}: TLS handshake not done within 300 ms")
        )
    );
}

#[test]
fn tls_with_a_login() {
    let pki = Pki::new();
    let dir = TempDir::new("auth");
    let file = dir.path().join("auth.txt");
    std::fs::write(&file, "alice:secret\n").unwrap();
    let m = Memcached::tls(&pki, "server", true, &["-Y", file.to_str().unwrap()]);
    let as_ = |password: &str| {
        let c = client_with(&[m.spec()], settings(&pki, true));
        c.update_options(|o| {
            o.auth = Some(Credentials::new("alice", password)?);
            Ok::<(), memcache::Error>(())
        })
        .unwrap();
        c
    };
    let c = as_("secret");
    assert_eq!(c.set(b"k", b"v", 0, 0), Ok(Status::Stored));
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
    assert_eq!(
        fail(as_("hunter2").get(b"k")),
        (
            Kind::Auth,
            format!(
                "{}: login as \"alice\" refused: CLIENT_ERROR authentication failure",
                m.spec()
            )
        )
    );
}

#[test]
fn bad_tls_settings_are_errors_of_the_call_that_applies_them() {
    let pki = Pki::new();
    let c = Client::new(&["127.0.0.1:1"]).unwrap();
    let apply = |tls: TlsOptions| {
        c.update_options(|o| {
            o.tls = tls;
            Ok::<(), memcache::Error>(())
        })
        .map_err(|e| (e.kind(), e.message().to_string()))
    };
    let mut missing = settings(&pki, false);
    missing.ca_file = Some(PathBuf::from("/nonexistent/ca.pem"));
    assert_eq!(
        apply(missing),
        Err((
            Kind::Invalid,
            "cannot read the TLS CA file \"/nonexistent/ca.pem\": No such file or directory (os error 2)"
                .to_string()
        ))
    );
    let mut not_pem = settings(&pki, false);
    not_pem.ca_file = Some(pki.path("client.key"));
    assert_eq!(
        apply(not_pem),
        Err((
            Kind::Invalid,
            format!(
                "cannot read the TLS CA file \"{}\": no PEM certificate in it",
                pki.file("client.key")
            )
        ))
    );
    let mut half = settings(&pki, true);
    half.key_file = None;
    assert_eq!(
        apply(half),
        Err((
            Kind::Invalid,
            "a TLS client certificate needs its key".to_string()
        ))
    );
    let mut mismatched = settings(&pki, true);
    mismatched.key_file = Some(pki.path("rogue.key"));
    let (kind, _) = apply(mismatched).unwrap_err();
    assert_eq!(kind, Kind::Invalid);
    let mut bad_name = settings(&pki, false);
    bad_name.server_name = Some("not a name".into());
    assert_eq!(
        apply(bad_name),
        Err((
            Kind::Invalid,
            "bad TLS server name \"not a name\": must be a DNS name or an IP address".to_string()
        ))
    );
    // Nothing was applied.
    assert_eq!(c.options().tls, TlsOptions::default());
}

/// memcached before 1.6.39 could stop short of the last commands of a
/// pipeline of sets over TLS (OpenSSL held them, decrypted, while the
/// socket was empty). Pipelines of every shape and value size, from small
/// to several records, each read back whole.
#[test]
fn pipelines_of_sets_of_every_size_do_not_hang() {
    let pki = Pki::new();
    let m = Memcached::tls(&pki, "server", false, &[]);
    let c = client_with(&[m.spec()], settings(&pki, false));
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    for round in 0..120 {
        let n = 1 + next(300) as usize;
        let keys: Vec<String> = (0..n).map(|i| format!("r{round}:{i}")).collect();
        let values: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| {
                let size = match next(10) {
                    0 => next(70_000),
                    1..=3 => next(17_000),
                    _ => next(400),
                } as usize;
                k.bytes().cycle().take(size).collect()
            })
            .collect();
        let items: Vec<(&String, &Vec<u8>, u32)> =
            keys.iter().zip(&values).map(|(k, v)| (k, v, 0)).collect();
        let stored = c.set_many(&items, 0).unwrap();
        assert_eq!(stored, vec![Ok(Status::Stored); n], "round {round}");
        let mut hits = c.get_many(&keys).unwrap();
        hits.sort_by_key(|h| keys.iter().position(|k| k.as_bytes() == h.key).unwrap());
        let got: Vec<&[u8]> = hits.iter().map(|h| h.item.value.as_slice()).collect();
        let want: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        assert!(got == want, "round {round}");
        assert_eq!(
            c.delete_many(&keys).unwrap(),
            vec![true; n],
            "round {round}"
        );
    }
}

#[test]
fn a_hung_tls_server_times_out_and_the_handle_recovers() {
    let pki = Pki::new();
    let m = Memcached::tls(&pki, "server", false, &[]);
    let c = client_with(&[m.spec()], settings(&pki, false));
    c.update_options(|o| {
        o.io_timeout = Duration::from_millis(300);
        o.connect_timeout = Duration::from_millis(300);
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
    assert_eq!(c.set(b"k", b"v", 0, 0), Ok(Status::Stored));
    support::pause(&m);
    assert_eq!(
        fail(c.get(b"k")),
        (
            Kind::Timeout,
            format!("{}: no reply within 300 ms", m.spec())
        )
    );
    // The timed-out connection was dropped: a new one cannot finish its
    // handshake with a server that does not run.
    let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    assert_eq!(
        fail(c.get_many(&keys)),
        (
            Kind::Timeout,
            format!("{}: TLS handshake not done within 300 ms", m.spec())
        )
    );
    support::resume(&m);
    // A new connection (a new handshake) carries the next command.
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
}

/// A TCP relay in front of `target` that forwards the client's bytes at
/// once and the server's at once until `trickle` is set, then one byte
/// every 20 ms: a server that stretches a reply out. (A relay, not a fake
/// server: the TLS is the real memcached's.)
fn trickling_relay(target: String, trickle: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let spec = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let Ok(mut server) = TcpStream::connect(&target) else {
                continue;
            };
            let (mut client_in, mut server_out) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut server_out);
            });
            let trickle = Arc::clone(&trickle);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    let n = match server.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    for chunk in buf[..n].chunks(if trickle.load(Ordering::SeqCst) { 1 } else { n })
                    {
                        if trickle.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        if client.write_all(chunk).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    spec
}

/// One deadline for a command, however the server doles its reply out:
/// a TLS record that arrives a byte at a time is not waited for beyond
/// the I/O timeout (each system call is bounded, and the deadline checked
/// between them).
#[test]
fn a_reply_trickled_a_byte_at_a_time_still_times_out_on_time() {
    let pki = Pki::new();
    let m = Memcached::tls(&pki, "server", false, &[]);
    let trickle = Arc::new(AtomicBool::new(false));
    let spec = trickling_relay(m.spec(), Arc::clone(&trickle));
    let mut tls = settings(&pki, false);
    tls.server_name = Some("127.0.0.1".into());
    let c = client_with(std::slice::from_ref(&spec), tls);
    c.update_options(|o| {
        o.io_timeout = Duration::from_millis(300);
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
    let value = vec![b'v'; 20_000];
    assert_eq!(c.set(b"k", &value, 0, 0), Ok(Status::Stored));
    assert_eq!(c.get(b"k").unwrap().unwrap().value, value);
    trickle.store(true, Ordering::SeqCst);
    let start = Instant::now();
    assert_eq!(
        fail(c.get(b"k")),
        (Kind::Timeout, format!("{spec}: no reply within 300 ms"))
    );
    // 20,000 bytes at 20 ms each would be 400 s; the deadline is 300 ms
    // (one system call may end up to 20 ms past it).
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
