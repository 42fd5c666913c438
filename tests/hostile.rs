//! A hostile or broken server, absurd input, a fork while threads work:
//! never a wrong value, a crash, silent data loss or a hang past the
//! timeout. Faults a real memcached cannot produce come from the fake
//! servers of tests/support (named as such); everything else runs against
//! a real memcached.

mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use memcache::client::{MAX_RELATIVE_TTL, MAX_UNIX_TIME};
use memcache::{registry, Client, Kind, Options, Status};
use support::{fail, stat_u64, Fake, FakeServer, Memcached, ScriptedServer, Step};

fn client_of(spec: &str, timeout_ms: u64) -> Client {
    let c = Client::new(&[spec]).unwrap();
    c.set_options(Options {
        io_timeout: Duration::from_millis(timeout_ms),
        connect_timeout: Duration::from_millis(timeout_ms),
        retry_interval: Duration::ZERO,
        ..c.options()
    })
    .unwrap();
    c
}

/// The server's own clock (its `time` stat).
fn server_time(c: &Client) -> u64 {
    stat_u64(c, "time")
}

// ----- 1. a reply for another key -----

#[test]
fn a_value_for_another_key_is_a_protocol_error_and_drops_the_connection() {
    let fake = ScriptedServer::start(vec![
        vec![
            Step::Read,
            Step::Write(b"VALUE other 0 3\r\nabc\r\nEND\r\n".to_vec()),
        ],
        vec![
            Step::Read,
            Step::Write(b"VALUE k 0 5\r\nright\r\nEND\r\n".to_vec()),
        ],
    ]);
    let c = client_of(&fake.spec(), 2000);
    assert_eq!(
        fail(c.get(b"k")),
        (
            Kind::Protocol,
            format!(
                "{}: reply with a value for key \"other\" to a request for \"k\"",
                fake.spec()
            )
        )
    );
    // The connection was dropped: the next request has a new one.
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"right");
    assert_eq!(fake.accepted(), 2);
}

#[test]
fn a_multi_get_reply_must_name_only_keys_asked_and_each_once() {
    let cases: [(&[u8], &str); 3] = [
        (
            b"VALUE k 0 1\r\na\r\nVALUE zz 0 1\r\nb\r\nEND\r\n",
            "reply with a value for key \"zz\", which was not asked for",
        ),
        (
            b"VALUE k 0 1\r\na\r\nVALUE k 0 1\r\nb\r\nEND\r\n",
            "reply with a value for key \"k\", which was not asked for",
        ),
        (
            b"VALUE other 0 3\r\nabc\r\nEND\r\n",
            "reply with a value for key \"other\", which was not asked for",
        ),
    ];
    for (reply, message) in cases {
        let fake = ScriptedServer::start(vec![vec![Step::Read, Step::Write(reply.to_vec())]]);
        let c = client_of(&fake.spec(), 2000);
        assert_eq!(
            fail(c.get_many(&["k", "k2"])),
            (Kind::Protocol, format!("{}: {message}", fake.spec()))
        );
        let (hits, errors) = c.get_many_partial(&["k", "k2"]).unwrap();
        assert!(hits.len() <= 1, "{hits:?}");
        assert_eq!(errors.len(), 1);
    }
    // Out of the order asked is still a valid reply; a key asked twice may
    // come twice.
    let m = Memcached::tcp_checked(&[]);
    let c = client_of(&m.spec(), 2000);
    c.set(b"a", b"1", 0, 0).unwrap();
    c.set(b"b", b"2", 0, 0).unwrap();
    let hits = c.get_many(&["b", "a", "b", "none"]).unwrap();
    let got: Vec<(String, Vec<u8>)> = hits
        .into_iter()
        .map(|h| (String::from_utf8(h.key).unwrap(), h.item.value))
        .collect();
    assert_eq!(
        got,
        vec![
            ("b".into(), b"2".to_vec()),
            ("a".into(), b"1".to_vec()),
            ("b".into(), b"2".to_vec())
        ]
    );
}

// ----- 2. an announced size never sizes an allocation -----

#[test]
fn a_huge_announced_value_fails_within_the_timeout_without_allocating_it() {
    // 4 GiB announced: over memcached's 1 GiB item limit, refused at once.
    let fake = FakeServer::start(Fake::Reply(b"VALUE k 0 4294967295\r\nabc".to_vec()));
    let c = client_of(&fake.spec(), 300);
    let spec = fake.spec();
    let huge = format!(
        "{spec}: malformed reply from memcached (VALUE larger than memcached's 1 GiB item \
         limit): \"VALUE k 0 4294967295\""
    );
    assert_eq!(fail(c.get(b"k")), (Kind::Protocol, huge.clone()));
    assert_eq!(fail(c.get_many(&["k"])), (Kind::Protocol, huge));
    // A VALUE where none was asked for is refused at its header.
    assert_eq!(
        fail(c.incr(b"k", 1)),
        (
            Kind::Protocol,
            format!(
                "{spec}: malformed reply from memcached (a value where none was asked for): \
                 \"VALUE k 0 4294967295\""
            )
        )
    );
    assert_eq!(fail(c.stats(None)).0, Kind::Protocol);
    // 1 GiB announced, 3 bytes sent: the read waits for data that never
    // comes, holding only what arrived, and times out on time.
    let fake = FakeServer::start(Fake::Reply(b"VALUE k 0 1073741824\r\nabc".to_vec()));
    let c = client_of(&fake.spec(), 300);
    for _ in 0..2 {
        let start = Instant::now();
        assert_eq!(
            fail(c.get(b"k")),
            (
                Kind::Timeout,
                format!("{}: no reply within 300 ms", fake.spec())
            )
        );
        let start_many = Instant::now();
        assert_eq!(fail(c.get_many(&["k"])).0, Kind::Timeout);
        assert!(start.elapsed() < Duration::from_millis(1500));
        assert!(start_many.elapsed() < Duration::from_millis(800));
    }
    // Resident memory did not grow by anything like the announced sizes.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(rss_kb < 512 * 1024, "peak resident {rss_kb} kB");
}

#[test]
fn a_large_value_is_read_whole_and_exact() {
    // Over the presize bound (1 MiB): read as it arrives, copied once.
    let m = Memcached::tcp_checked(&["-I", "8m"]);
    let c = client_of(&m.spec(), 5000);
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    assert_eq!(c.set(b"big", &value, 3, 0), Ok(Status::Stored));
    let item = c.get(b"big").unwrap().unwrap();
    assert_eq!((item.value.len(), item.flags), (value.len(), 3));
    assert!(item.value == value);
    let hits = c.get_many(&["big"]).unwrap();
    assert!(hits[0].item.value == value);
}

#[test]
fn stats_replies_are_bounded() {
    let mut reply = Vec::new();
    let line = format!("STAT {} {}\r\n", "n".repeat(100), "v".repeat(900));
    while reply.len() < 9 << 20 {
        reply.extend_from_slice(line.as_bytes());
    }
    reply.extend_from_slice(b"END\r\n");
    let fake = FakeServer::start(Fake::Reply(reply));
    let c = client_of(&fake.spec(), 5000);
    assert_eq!(
        fail(c.stats(None)),
        (
            Kind::Protocol,
            format!("{}: stats reply larger than 8 MiB: not kept", fake.spec())
        )
    );
}

// ----- 4. no silent second send -----

#[test]
fn an_incr_the_server_may_have_done_is_never_sent_again() {
    // Fake: answers one incr, then takes the next one and closes without a
    // reply (as a server that did it and died would).
    let fake = ScriptedServer::start(vec![
        vec![
            Step::Read,
            Step::Write(b"1\r\n".to_vec()),
            Step::Read,
            Step::Close,
        ],
        vec![Step::Read, Step::Write(b"3\r\n".to_vec())],
    ]);
    let c = client_of(&fake.spec(), 2000);
    assert_eq!(c.incr(b"n", 1), Ok(Some(1)));
    assert_eq!(
        fail(c.incr(b"n", 1)),
        (
            Kind::Io,
            format!(
                "{}: connection closed by the server before it replied",
                fake.spec()
            )
        )
    );
    assert_eq!(fake.accepted(), 1);
    // The same for add, cas, delete, append: one send, and the error.
    for op in 0..4 {
        let fake = ScriptedServer::start(vec![vec![
            Step::Read,
            Step::Write(b"VERSION 1\r\n".to_vec()),
            Step::Read,
            Step::Close,
        ]]);
        let c = client_of(&fake.spec(), 2000);
        c.version().unwrap();
        let (kind, _) = match op {
            0 => fail(c.add(b"k", b"v", 0, 0)),
            1 => fail(c.cas(b"k", b"v", 0, 0, 7)),
            2 => fail(c.delete(b"k")),
            _ => fail(c.append(b"k", b"v")),
        };
        assert_eq!(kind, Kind::Io, "op {op}");
        assert_eq!(fake.accepted(), 1, "op {op}");
    }
}

#[test]
fn a_get_on_a_connection_closed_while_idle_is_sent_again_once() {
    let fake = ScriptedServer::start(vec![
        vec![
            Step::Read,
            Step::Write(b"END\r\n".to_vec()),
            Step::Read,
            Step::Close,
        ],
        vec![
            Step::Read,
            Step::Write(b"VALUE k 0 1\r\nx\r\nEND\r\n".to_vec()),
        ],
    ]);
    let c = client_of(&fake.spec(), 2000);
    assert_eq!(c.get(b"k"), Ok(None));
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"x");
    assert_eq!(fake.accepted(), 2);
}

// ----- 5, 6, 7. lifetimes -----

#[test]
fn lifetimes_past_2038_are_refused_never_stored_dead() {
    let m = Memcached::tcp_checked(&[]);
    let c = client_of(&m.spec(), 2000);
    let now = server_time(&c);
    let spec = m.spec();
    let refused = |ttl: u64, from: u64| {
        (
            Kind::Invalid,
            format!(
                "a lifetime of {ttl} seconds ends after 2038-01-19 03:14:07 UTC, the last time \
                 memcached can keep (today at most {} seconds)",
                MAX_UNIX_TIME - from
            ),
        )
    };
    // 20 years, and the largest number.
    for ttl in [630_720_000u32, u32::MAX] {
        let (kind, message) = fail(c.set(b"k", b"v", 0, ttl));
        // The server's clock may tick once meanwhile.
        assert!(
            (kind, message.clone()) == refused(ttl.into(), now)
                || (kind, message.clone()) == refused(ttl.into(), now - 1)
                || (kind, message.clone()) == refused(ttl.into(), now + 1),
            "{spec}: {message}"
        );
        assert_eq!(fail(c.touch(b"k", ttl)).0, Kind::Invalid);
        assert_eq!(fail(c.get_and_touch(b"k", ttl)).0, Kind::Invalid);
        assert_eq!(fail(c.set_many(&[("k", "v", 0)], ttl)).0, Kind::Invalid);
        assert_eq!(fail(c.flush_all(Some(ttl))).0, Kind::Invalid);
        assert_eq!(c.get(b"k"), Ok(None));
    }
    // Just inside the limit: stored, and alive.
    let ttl = u32::try_from(MAX_UNIX_TIME - now - 100).unwrap();
    assert_eq!(c.set(b"late", b"v", 0, ttl), Ok(Status::Stored));
    assert_eq!(c.get(b"late").unwrap().unwrap().value, b"v");
}

/// The TTL a long lifetime reads back, against a 30-day one (which
/// memcached counts itself) stored and read within one tick of the
/// server's clock: never longer than asked, at most 2 s shorter.
#[test]
fn long_lifetimes_count_from_the_servers_clock() {
    let m = Memcached::tcp_checked(&[]);
    let c = client_of(&m.spec(), 2000);
    let extra = 12_345u32;
    let mut tries = 0;
    loop {
        tries += 1;
        assert!(tries < 50, "the server's clock ticked during every try");
        let before = server_time(&c);
        c.set(b"ref", b"v", 0, MAX_RELATIVE_TTL).unwrap();
        c.set(b"long", b"v", 0, MAX_RELATIVE_TTL + extra).unwrap();
        c.touch(b"touched", MAX_RELATIVE_TTL + extra).unwrap();
        let reference = c.ttl(b"ref").unwrap().unwrap();
        let long = c.ttl(b"long").unwrap().unwrap();
        if server_time(&c) != before {
            continue;
        }
        assert_eq!(reference, i64::from(MAX_RELATIVE_TTL));
        let want = reference + i64::from(extra);
        assert!((want - 2..=want).contains(&long), "{long} for {want}");
        break;
    }
}

/// A fake memcached (named as such: its clock is set, which a real one's
/// cannot be) that answers `stats` with `time` and records every other
/// request line, answering it with `reply`.
fn clock_fake(time: u64, reply: &'static [u8]) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let spec = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let mut line = String::new();
                while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let request = line.trim_end().to_string();
                    line.clear();
                    let answer: Vec<u8> = if request == "stats" {
                        format!("STAT pid 1\r\nSTAT time {time}\r\nEND\r\n").into_bytes()
                    } else {
                        if request.starts_with("set ") {
                            // the data line
                            lines.read_line(&mut line).unwrap();
                            line.clear();
                        }
                        log.lock().unwrap().push(request);
                        reply.to_vec()
                    };
                    if out.write_all(&answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (spec, seen)
}

#[test]
fn long_lifetimes_are_sent_as_the_servers_time_plus_the_ttl() {
    // A server whose clock is 2023-11-14 (the host's says otherwise): the
    // exptime sent is its time (less the second its clock may lag) + ttl.
    let time = 1_700_000_000u64;
    let (spec, seen) = clock_fake(time, b"STORED\r\n");
    let c = client_of(&spec, 2000);
    let ttl = MAX_RELATIVE_TTL + 1;
    assert_eq!(c.set(b"k", b"v", 0, ttl), Ok(Status::Stored));
    assert_eq!(c.set(b"r", b"v", 0, MAX_RELATIVE_TTL), Ok(Status::Stored));
    let want = time - 1 + u64::from(ttl);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            format!("set k 0 {want} 1"),
            format!("set r 0 {MAX_RELATIVE_TTL} 1")
        ]
    );
    // The limit moves with the server's clock.
    let latest = MAX_UNIX_TIME - (time - 1);
    assert_eq!(
        fail(c.set(b"k", b"v", 0, u32::try_from(latest + 1).unwrap())).1,
        format!(
            "a lifetime of {} seconds ends after 2038-01-19 03:14:07 UTC, the last time \
             memcached can keep (today at most {latest} seconds)",
            latest + 1
        )
    );
    assert_eq!(
        c.set(b"k", b"v", 0, u32::try_from(latest).unwrap()),
        Ok(Status::Stored)
    );
    let (spec, seen) = clock_fake(time, b"OK\r\n");
    let c = client_of(&spec, 2000);
    c.flush_all(Some(ttl)).unwrap();
    c.flush_all(Some(60)).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![format!("flush_all {want}"), "flush_all 60".to_string()]
    );
}

#[test]
fn flush_delays_over_30_days_are_converted_too() {
    let m = Memcached::tcp_checked(&[]);
    let c = client_of(&m.spec(), 2000);
    c.set(b"k", b"v", 0, 0).unwrap();
    // Sent as 1970 (the old bug), this would flush everything at once.
    c.flush_all(Some(MAX_RELATIVE_TTL + 1000)).unwrap();
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
    c.flush_all(None).unwrap();
    assert_eq!(c.get(b"k"), Ok(None));
}

// ----- 9. one deadline per command -----

#[test]
fn one_deadline_covers_every_server_of_a_command() {
    let silent: Vec<FakeServer> = (0..3).map(|_| FakeServer::start(Fake::Hang)).collect();
    let specs: Vec<String> = silent.iter().map(FakeServer::spec).collect();
    let c = Client::new(&specs).unwrap();
    c.set_options(Options {
        io_timeout: Duration::from_millis(400),
        retry_interval: Duration::ZERO,
        ..c.options()
    })
    .unwrap();
    let keys: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    let items: Vec<(&String, &[u8], u32)> = keys.iter().map(|k| (k, &b"v"[..], 0)).collect();
    let timed = |what: &str, f: &dyn Fn() -> Kind| {
        let start = Instant::now();
        assert_eq!(f(), Kind::Timeout, "{what}");
        let took = start.elapsed();
        assert!(took < Duration::from_millis(750), "{what} took {took:?}");
    };
    timed("get_many", &|| c.get_many(&keys).unwrap_err().kind());
    timed("get_many_partial", &|| {
        c.get_many_partial(&keys).unwrap().1[0].kind()
    });
    timed("set_many", &|| c.set_many(&items, 0).unwrap_err().kind());
    timed("delete_many", &|| c.delete_many(&keys).unwrap_err().kind());
    timed("stats", &|| c.stats(None).unwrap_err().kind());
    timed("version", &|| c.version().unwrap_err().kind());
    timed("flush", &|| c.flush_all(None).unwrap_err().kind());
}

// ----- 10. the server's own words -----

#[test]
fn memcacheds_words_are_kept_and_replies_shown_as_text() {
    let fake = FakeServer::start(Fake::Reply(b"ERROR Too many open connections\r\n".to_vec()));
    let c = client_of(&fake.spec(), 2000);
    assert_eq!(
        fail(c.get(b"k")),
        (
            Kind::Io,
            format!("{}: ERROR Too many open connections", fake.spec())
        )
    );
    let fake = FakeServer::start(Fake::Reply(b"STAT pid 1234\r\nEND\r\n".to_vec()));
    let c = client_of(&fake.spec(), 2000);
    assert_eq!(
        fail(c.get(b"k")),
        (
            Kind::Protocol,
            format!(
                "{}: reply that does not answer the request: \"STAT pid 1234\"",
                fake.spec()
            )
        )
    );
}

// ----- 3. fork while other threads are inside the library -----

/// Threads hammer handles (gets, creates, deletes, settings, the handle
/// list: each spends much of its time inside one of the library's locks)
/// while the main thread forks again and again; every child takes each of
/// those locks for writing and exits. A child that inherited a held lock
/// would hang: each must finish within seconds.
#[test]
fn a_fork_while_threads_work_leaves_the_child_able_to_work() {
    let m = Memcached::tcp_checked(&[]);
    let spec = m.spec();
    let id = registry::create(&[&spec], Options::default()).unwrap();
    let c = registry::get(id).unwrap();
    c.set(b"shared", b"value", 0, 0).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..5)
        .map(|t| {
            let c = Arc::clone(&c);
            let stop = Arc::clone(&stop);
            let spec = spec.clone();
            thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match t {
                        0 => {
                            let other = registry::create(&[&spec], Options::default()).unwrap();
                            registry::remove(other).unwrap();
                        }
                        1 => c.set_servers(&[&spec]).unwrap(),
                        2 => assert!(registry::ids().contains(&id)),
                        3 => assert_eq!(c.options().default_ttl, 28_800),
                        _ => assert_eq!(c.get(b"shared").unwrap().unwrap().value, b"value"),
                    }
                }
            })
        })
        .collect();
    for round in 0..300 {
        // SAFETY: the child only calls the library and _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = registry::get(id).is_ok_and(|c| {
                c.update_options(|o| {
                    o.default_ttl = 28_800;
                    Ok::<(), memcache::Error>(())
                })
                .is_ok()
                    && c.set_servers(&[&spec]).is_ok()
                    && c.get(b"shared")
                        .is_ok_and(|v| v.is_some_and(|i| i.value == b"value"))
            }) && registry::create(&[&spec], Options::default()).is_ok();
            // SAFETY: ends the child without running the parent's exit
            // handlers or the test harness.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let start = Instant::now();
        let status = loop {
            let mut status = 0;
            // SAFETY: waits for our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break status;
            }
            if start.elapsed() > Duration::from_secs(5) {
                // SAFETY: our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("round {round}: the child hung");
            }
            thread::sleep(Duration::from_micros(200));
        };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "round {round}: child status {status}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    registry::remove(id).unwrap();
}
