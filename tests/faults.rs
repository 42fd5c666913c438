//! Failures: servers that refuse, die, stop, hang, answer late, answer
//! garbage or cut a reply short. Real memcached where it can produce the
//! fault (refused, killed, stopped with SIGSTOP); a fake server only for
//! what a real one never does.

mod support;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use memcache::{Client, Item, Kind, Options, Status};
use support::{
    fail, free_port, pause, resume, stat_u64, Fake, FakeServer, FullBacklog, FullUnixBacklog,
    Memcached, ScriptedServer, Step,
};

/// A client that marks no server dead (retry interval 0): these tests look
/// at each request's own failure; the failure policy is tested in
/// tests/multi.rs.
fn client(spec: &str) -> Client {
    let c = Client::new(&[spec]).unwrap();
    c.set_options(Options {
        retry_interval: Duration::ZERO,
        ..c.options()
    })
    .unwrap();
    c
}

/// A client whose operations wait at most `ms` for a reply (and for a
/// connection).
fn client_with_timeout(spec: &str, ms: u64) -> Client {
    let c = client(spec);
    c.set_options(Options {
        io_timeout: Duration::from_millis(ms),
        connect_timeout: Duration::from_millis(ms),
        ..c.options()
    })
    .unwrap();
    c
}

fn item(value: &[u8], flags: u32, cas: u64) -> Option<Item> {
    Some(Item {
        value: value.to_vec(),
        flags,
        cas,
    })
}

fn value(item: Option<Item>) -> Option<Vec<u8>> {
    item.map(|i| i.value)
}

/// Runs `f` and checks it took between `min` and `max` milliseconds.
fn timed<T>(min: u64, max: u64, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(min) && took <= Duration::from_millis(max),
        "took {took:?}, expected {min} to {max} ms"
    );
    out
}

// ----- nothing listening, daemon killed, restarted, stopped -----

#[test]
fn refused_connection_is_an_io_error() {
    let port = free_port();
    let spec = format!("127.0.0.1:{port}");
    let c = client(&spec);
    let refused = (
        Kind::Io,
        format!("127.0.0.1:{port}: cannot connect: Connection refused (os error 111)"),
    );
    assert_eq!(fail(c.get(b"k")), refused);
    assert_eq!(fail(c.set(b"k", b"v", 0, 0)), refused);
    assert_eq!(fail(c.get_many(&[b"a", b"b"])), refused);
    assert_eq!(fail(c.set_many(&[(b"a", b"1", 0u32)], 0)), refused);
    assert_eq!(fail(c.delete_many(&[b"a"])), refused);
    assert_eq!(fail(c.stats(None)), refused);
    assert_eq!(fail(c.version()), refused);
    assert_eq!(fail(c.flush_all(None)), refused);
}

#[test]
fn missing_unix_socket_is_an_io_error() {
    let dir = support::TempDir::new("nosock");
    let path = dir.path().join("none.sock");
    let c = client(path.to_str().unwrap());
    assert_eq!(
        fail(c.get(b"k")),
        (
            Kind::Io,
            format!(
                "{}: cannot connect: No such file or directory (os error 2)",
                path.display()
            )
        )
    );
}

#[test]
fn killed_server_fails_fast_and_the_same_client_works_after_restart() {
    let mut m = Memcached::tcp_checked(&[]);
    let c = client_with_timeout(&m.spec(), 1000);
    assert_eq!(c.set(b"k", b"before", 0, 0).unwrap(), Status::Stored);
    m.kill();
    let refused = (
        Kind::Io,
        format!(
            "{}: cannot connect: Connection refused (os error 111)",
            m.spec()
        ),
    );
    // The pooled connection finds the server gone, its one retry is
    // refused: an error at once, well within the 1 s timeout.
    assert_eq!(timed(0, 500, || fail(c.get(b"k"))), refused);
    assert_eq!(timed(0, 500, || fail(c.set(b"k", b"v", 0, 0))), refused);
    assert_eq!(timed(0, 500, || fail(c.get_many(&[b"k"]))), refused);
    m.restart();
    // Same client, not recreated; the restarted daemon is empty.
    assert_eq!(c.get(b"k").unwrap(), None);
    assert_eq!(c.set(b"k", b"after", 0, 0).unwrap(), Status::Stored);
    assert_eq!(value(c.get(b"k").unwrap()), Some(b"after".to_vec()));
}

#[test]
fn killed_unix_socket_server_fails_fast_and_recovers() {
    let mut m = Memcached::unix();
    let c = client_with_timeout(&m.spec(), 1000);
    assert_eq!(c.set(b"k", b"before", 0, 0).unwrap(), Status::Stored);
    m.kill();
    // The socket file is gone with the daemon.
    let gone = (
        Kind::Io,
        format!(
            "{}: cannot connect: No such file or directory (os error 2)",
            m.spec()
        ),
    );
    assert_eq!(timed(0, 500, || fail(c.get(b"k"))), gone);
    assert_eq!(timed(0, 500, || fail(c.get(b"k"))), gone);
    m.restart();
    assert_eq!(c.get(b"k").unwrap(), None);
    assert_eq!(c.set(b"k", b"after", 0, 0).unwrap(), Status::Stored);
    assert_eq!(value(c.get(b"k").unwrap()), Some(b"after".to_vec()));
}

/// The first operation after a restart goes out on a pooled connection the
/// old daemon closed: it fails before any reply, so the server never saw
/// the request, and the library sends it again on a new connection.
fn first_operation_after_restart_succeeds(mut m: Memcached) {
    let c = client(&m.spec());
    assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
    let items = [(b"a", b"1", 1u32), (b"b", b"2", 2)];
    assert_eq!(c.set_many(&items, 0).unwrap(), vec![Ok(Status::Stored); 2]);
    m.restart();
    assert_eq!(c.add(b"k", b"new", 3, 0).unwrap(), Status::Stored);
    // Sent exactly once to the new daemon.
    assert_eq!(stat_u64(&c, "cmd_set"), 1);
    assert_eq!(c.get(b"k").unwrap(), item(b"new", 3, 1));
    // The same for a pipelined operation.
    m.restart();
    assert_eq!(c.set_many(&items, 0).unwrap(), vec![Ok(Status::Stored); 2]);
    assert_eq!(stat_u64(&c, "cmd_set"), 2);
    m.restart();
    let mut hits = c.get_many(&[b"a", b"b"]).unwrap();
    assert_eq!(hits, vec![]);
    assert_eq!(c.set_many(&items, 0).unwrap(), vec![Ok(Status::Stored); 2]);
    hits = c.get_many(&[b"a", b"b"]).unwrap();
    hits.sort_by(|x, y| x.key.cmp(&y.key));
    assert_eq!(hits.len(), 2);
    assert_eq!(
        (hits[0].item.value.as_slice(), hits[0].item.flags),
        (&b"1"[..], 1)
    );
    assert_eq!(
        (hits[1].item.value.as_slice(), hits[1].item.flags),
        (&b"2"[..], 2)
    );
    // And for a command sent to every server.
    m.restart();
    assert_eq!(c.version().unwrap(), vec![support::memcached_version()]);
}

#[test]
fn first_operation_after_restart_succeeds_over_tcp() {
    first_operation_after_restart_succeeds(Memcached::tcp_checked(&[]));
}

#[test]
fn first_operation_after_restart_succeeds_over_unix_socket() {
    first_operation_after_restart_succeeds(Memcached::unix());
}

/// A timeout on a pooled connection is not a connection closed while idle:
/// the server may have the request and act on it later, so it must not be
/// sent again (here: an incr applied twice).
#[test]
fn timeout_on_a_pooled_connection_is_not_retried() {
    let m = Memcached::tcp_checked(&[]);
    let c = client_with_timeout(&m.spec(), 300);
    assert_eq!(c.set(b"n", b"0", 0, 0).unwrap(), Status::Stored);
    pause(&m);
    let result = timed(250, 550, || fail(c.incr(b"n", 1)));
    resume(&m);
    assert_eq!(
        result,
        (
            Kind::Timeout,
            format!("{}: no reply within 300 ms", m.spec())
        )
    );
    // The daemon resumed and applied the one incr it received.
    let start = Instant::now();
    while value(c.get(b"n").unwrap()) == Some(b"0".to_vec()) {
        assert!(start.elapsed() < Duration::from_secs(2));
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(value(c.get(b"n").unwrap()), Some(b"1".to_vec()));
    assert_eq!(stat_u64(&c, "incr_hits"), 1);
}

/// Writing on a Unix socket whose daemon died raises SIGPIPE unless the
/// library says MSG_NOSIGNAL; a Tcl or C host does not ignore SIGPIPE as
/// Rust programs do, and would be killed. Checked in a child process that
/// restores the default disposition.
#[test]
fn dead_unix_socket_daemon_does_not_raise_sigpipe() {
    const NAME: &str = "dead_unix_socket_daemon_does_not_raise_sigpipe";
    if std::env::var_os("MC_TEST_SIGPIPE_CHILD").is_some() {
        // SAFETY: restores the default action, as in a C or Tcl program.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let mut m = Memcached::unix();
        let c = client(&m.spec());
        assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
        assert_eq!(
            c.set_many(&[(b"k", b"v", 0u32)], 0).unwrap(),
            vec![Ok(Status::Stored)]
        );
        m.kill();
        let gone = (
            Kind::Io,
            format!(
                "{}: cannot connect: No such file or directory (os error 2)",
                m.spec()
            ),
        );
        assert_eq!(fail(c.get(b"k")), gone);
        m.restart();
        assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
        m.kill();
        assert_eq!(fail(c.get_many(&[b"k"])), gone);
        println!("child survived");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env("MC_TEST_SIGPIPE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        None,
        "child killed by a signal:\n{stdout}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("child survived"), "{stdout}");
}

// ----- fake servers: what a real memcached never does -----

#[test]
fn server_that_never_answers_times_out() {
    let fake = FakeServer::start(Fake::Hang);
    let c = client_with_timeout(&fake.spec(), 200);
    let timeout = (
        Kind::Timeout,
        format!("127.0.0.1:{}: no reply within 200 ms", fake.port),
    );
    assert_eq!(timed(150, 600, || fail(c.get(b"k"))), timeout);
    assert_eq!(timed(150, 600, || fail(c.set(b"k", b"v", 0, 0))), timeout);
    assert_eq!(timed(150, 600, || fail(c.get_many(&[b"a", b"b"]))), timeout);
    assert_eq!(timed(150, 600, || fail(c.stats(None))), timeout);
    // Big enough to need more than one write: the request is taken by the
    // kernel's buffers, the reply never comes.
    let big = vec![b'x'; 300_000];
    assert_eq!(timed(150, 600, || fail(c.set(b"k", &big, 0, 0))), timeout);
}

#[test]
fn late_reply_is_never_read_as_the_next_answer() {
    // First connection: answers "get a" after 400 ms with a value. Later
    // connections: answer at once with a miss. Reading the first
    // connection's late reply for the second get would return "stale".
    let fake = ScriptedServer::start(vec![
        vec![
            Step::Read,
            Step::Sleep(Duration::from_millis(400)),
            Step::Write(b"VALUE a 0 5\r\nstale\r\nEND\r\n".to_vec()),
        ],
        vec![Step::Read, Step::Write(b"END\r\n".to_vec())],
    ]);
    let c = client_with_timeout(&fake.spec(), 200);
    assert_eq!(
        timed(150, 600, || fail(c.get(b"a"))),
        (
            Kind::Timeout,
            format!("127.0.0.1:{}: no reply within 200 ms", fake.port)
        )
    );
    // Let the late reply arrive where the old connection was.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(c.get(b"a").unwrap(), None);
    assert_eq!(fake.accepted(), 2);
}

#[test]
fn connection_with_unread_bytes_is_not_pooled() {
    // First connection: answers a miss followed by an unasked-for VALUE in
    // the same write. Later connections: a miss. Pooling the first one
    // would hand "extra" to the next get as its answer.
    let fake = ScriptedServer::start(vec![
        vec![
            Step::Read,
            Step::Write(b"END\r\nVALUE a 0 5\r\nextra\r\nEND\r\n".to_vec()),
        ],
        vec![Step::Read, Step::Write(b"END\r\n".to_vec())],
    ]);
    let c = client(&fake.spec());
    assert_eq!(c.get(b"b").unwrap(), None);
    assert_eq!(c.get(b"a").unwrap(), None);
    assert_eq!(fake.accepted(), 2);
}

#[test]
fn garbage_reply_is_a_protocol_error() {
    let fake = FakeServer::start(Fake::Reply(b"HELLO\r\n".to_vec()));
    let c = client(&fake.spec());
    let garbage = (
        Kind::Protocol,
        format!(
            "127.0.0.1:{}: malformed reply from memcached (unknown reply): \"HELLO\"",
            fake.port
        ),
    );
    assert_eq!(fail(c.get(b"k")), garbage);
    assert_eq!(fail(c.set(b"k", b"v", 0, 0)), garbage);
    assert_eq!(fail(c.get_many(&[b"k"])), garbage);
    assert_eq!(fail(c.delete(b"k")), garbage);
    assert_eq!(fail(c.version()), garbage);
}

#[test]
fn reply_cut_in_the_middle_of_a_value_is_an_io_error() {
    let fake = ScriptedServer::start(vec![vec![
        Step::Read,
        Step::Write(b"VALUE a 0 10\r\nabc".to_vec()),
        Step::Close,
    ]]);
    let c = client(&fake.spec());
    let cut = (
        Kind::Io,
        format!(
            "127.0.0.1:{}: connection closed by the server in the middle of a reply",
            fake.port
        ),
    );
    assert_eq!(fail(c.get(b"a")), cut);
    assert_eq!(fail(c.get_many(&[b"a", b"b"])), cut);
    // Nothing was retried: one connection per operation.
    assert_eq!(fake.accepted(), 2);
}

#[test]
fn connection_closed_before_the_reply_is_an_io_error() {
    let fake = FakeServer::start(Fake::Cut);
    let c = client(&fake.spec());
    assert_eq!(
        fail(c.get(b"k")),
        (
            Kind::Io,
            format!(
                "127.0.0.1:{}: connection closed by the server before it replied",
                fake.port
            )
        )
    );
}

#[test]
fn connect_timeout_on_a_full_backlog() {
    let full = FullBacklog::new();
    let c = client_with_timeout(&full.spec(), 200);
    let timeout = (
        Kind::Timeout,
        format!("127.0.0.1:{}: cannot connect within 200 ms", full.port()),
    );
    assert_eq!(timed(150, 600, || fail(c.get(b"k"))), timeout);
    assert_eq!(timed(150, 600, || fail(c.get_many(&[b"k"]))), timeout);
}

/// After a failed operation its connection is dropped: whatever the server
/// sent after the failure (here a whole VALUE reply, already buffered) is
/// never read as the answer to the next request.
#[test]
fn connection_is_dropped_after_any_error() {
    let leftover = b"VALUE a 0 5\r\nstale\r\nEND\r\n";
    let fresh = b"VALUE a 0 5\r\nfresh\r\nEND\r\n".to_vec();
    let cases: Vec<(&[u8], (Kind, &str))> = vec![
        (
            b"SERVER_ERROR out of memory storing object\r\n",
            (Kind::Server, "SERVER_ERROR out of memory storing object"),
        ),
        (
            b"CLIENT_ERROR bad data chunk\r\n",
            (Kind::Client, "CLIENT_ERROR bad data chunk"),
        ),
        (
            b"ERROR\r\n",
            (Kind::Client, "ERROR: the server does not know this command"),
        ),
        (
            b"STORED\r\n",
            (
                Kind::Protocol,
                "reply that does not answer the request: \"STORED\"",
            ),
        ),
        (
            b"HELLO\r\n",
            (
                Kind::Protocol,
                "malformed reply from memcached (unknown reply): \"HELLO\"",
            ),
        ),
    ];
    for (first, (kind, message)) in cases {
        let mut reply = first.to_vec();
        reply.extend_from_slice(leftover);
        let fake = ScriptedServer::start(vec![
            vec![Step::Read, Step::Write(reply)],
            vec![Step::Read, Step::Write(fresh.clone())],
        ]);
        let c = client(&fake.spec());
        assert_eq!(
            fail(c.get(b"a")),
            (kind, format!("127.0.0.1:{}: {message}", fake.port))
        );
        assert_eq!(value(c.get(b"a").unwrap()), Some(b"fresh".to_vec()));
        assert_eq!(fake.accepted(), 2);
    }
}

/// A healthy connection is kept: many operations, one connection.
#[test]
fn healthy_connection_is_reused() {
    let fake = ScriptedServer::start(vec![vec![
        Step::Read,
        Step::Write(b"END\r\n".to_vec()),
        Step::Read,
        Step::Write(b"STORED\r\n".to_vec()),
        Step::Read,
        Step::Write(b"VALUE a 7 1 42\r\nx\r\nEND\r\n".to_vec()),
    ]]);
    let c = client(&fake.spec());
    assert_eq!(c.get(b"a").unwrap(), None);
    assert_eq!(c.set(b"a", b"x", 7, 0).unwrap(), Status::Stored);
    assert_eq!(c.get(b"a").unwrap(), item(b"x", 7, 42));
    assert_eq!(fake.accepted(), 1);
}

/// In a multi-server call, a hanging server costs one timeout, not one per
/// key, and the healthy server's connection stays usable.
#[test]
fn hanging_server_in_a_multi_get_times_out_once() {
    let m = Memcached::tcp_checked(&[]);
    let fake = FakeServer::start(Fake::Hang);
    let c = Client::new(&[m.spec(), fake.spec()]).unwrap();
    c.set_options(Options {
        io_timeout: Duration::from_millis(200),
        retry_interval: Duration::ZERO,
        ..c.options()
    })
    .unwrap();
    // Keys for each server by the handle's distribution.
    let keys: Vec<String> = (0..40).map(|i| format!("key{i}")).collect();
    let (real, fake_keys): (Vec<&String>, Vec<&String>) = keys
        .iter()
        .partition(|k| c.server_for(k.as_bytes()).unwrap() == 0);
    assert!(!real.is_empty() && !fake_keys.is_empty());
    for k in &real {
        assert_eq!(
            c.set(k.as_bytes(), k.as_bytes(), 0, 0).unwrap(),
            Status::Stored
        );
    }
    assert_eq!(
        timed(150, 600, || fail(c.get_many(&keys))),
        (
            Kind::Timeout,
            format!("{}: no reply within 200 ms", fake.spec())
        )
    );
    let hits = c.get_many(&real).unwrap();
    assert_eq!(hits.len(), real.len());
    for h in hits {
        assert_eq!(h.key, h.item.value);
    }
}

/// A server that takes a connection and never reads from it: a request
/// larger than the socket buffers cannot be written. The I/O timeout bounds
/// the whole write, not each of the partial writes it takes.
#[test]
fn server_that_never_reads_times_out_the_write() {
    let fake = ScriptedServer::start(vec![vec![Step::Sleep(Duration::from_secs(30))]]);
    let c = client_with_timeout(&fake.spec(), 200);
    let big = vec![b'x'; 64 << 20];
    assert_eq!(
        timed(150, 350, || fail(c.set(b"k", &big, 0, 0))),
        (
            Kind::Timeout,
            format!(
                "127.0.0.1:{}: server did not take the request within 200 ms",
                fake.port
            )
        )
    );
    // A pipeline (written while replies are awaited, see
    // `Connection::send_pipeline`) too, on a new handle (the first marked
    // the server dead).
    let c = client_with_timeout(&fake.spec(), 200);
    let value = vec![b'x'; 64 << 10];
    let keys: Vec<String> = (0..1024).map(|i| format!("k{i}")).collect();
    let items: Vec<(&[u8], &[u8], u32)> =
        keys.iter().map(|k| (k.as_bytes(), &value[..], 0)).collect();
    assert_eq!(
        timed(150, 350, || fail(c.set_many(&items, 0))),
        (
            Kind::Timeout,
            format!(
                "127.0.0.1:{}: server did not take the request within 200 ms",
                fake.port
            )
        )
    );
}

/// The same over a Unix socket, where a blocking connect to a full queue
/// waits for as long as it takes: the connect timeout must bound it.
#[test]
fn connect_timeout_on_a_full_unix_socket_backlog() {
    let full = FullUnixBacklog::new();
    let spec = full.spec();
    let (done, result) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let c = client_with_timeout(&spec, 200);
        let start = Instant::now();
        let error = fail(c.get(b"k"));
        let _ = done.send((error, start.elapsed()));
    });
    let (error, took) = result
        .recv_timeout(Duration::from_secs(3))
        .expect("connecting to a full Unix socket queue hangs");
    assert_eq!(
        error,
        (
            Kind::Timeout,
            format!("{}: cannot connect within 200 ms", full.spec())
        )
    );
    assert!(
        took >= Duration::from_millis(150) && took <= Duration::from_millis(600),
        "{took:?}"
    );
}
