//! Servers that require a login (memcached `-Y` with an auth file): the
//! handle's credentials are sent first on every new connection; a refused
//! or missing login is an AUTH error with the server's words, and the
//! password never shows.

mod support;

use std::time::Duration;

use memcache::{Client, Credentials, Kind, Options, Status};
use support::{fail, Memcached, TempDir};

/// A memcached that takes alice/secret only, and its auth file's directory.
fn locked_server() -> (Memcached, TempDir) {
    let dir = TempDir::new("auth");
    let file = dir.path().join("auth.txt");
    std::fs::write(&file, "alice:secret\n").unwrap();
    let m = Memcached::tcp_with(&["-Y", file.to_str().unwrap()]);
    (m, dir)
}

fn client_as(m: &Memcached, user: &str, password: &str) -> Client {
    let c = Client::new(&[m.spec()]).unwrap();
    c.update_options(|o| {
        o.auth = Some(Credentials::new(user, password)?);
        o.retry_interval = Duration::ZERO;
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
    c
}

#[test]
fn a_login_is_sent_on_every_new_connection() {
    let (mut m, _dir) = locked_server();
    let c = client_as(&m, "alice", "secret");
    assert_eq!(c.set(b"k", b"v", 0, 0), Ok(Status::Stored));
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
    let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    support::set_all(&c, &keys);
    assert_eq!(c.get_many(&keys).unwrap().len(), 50);
    assert_eq!(c.incr(b"n", 1), Ok(None));
    // A restarted server: the new connection logs in again.
    m.restart();
    assert_eq!(c.get(b"k"), Ok(None));
    assert_eq!(c.set(b"k", b"again", 0, 0), Ok(Status::Stored));
    // Threads, each with its own pooled connection.
    let c = std::sync::Arc::new(c);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let c = std::sync::Arc::clone(&c);
            std::thread::spawn(move || {
                for i in 0..50 {
                    let key = format!("t{t}-{i}");
                    assert_eq!(c.set(key.as_bytes(), b"v", 0, 0), Ok(Status::Stored));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_refused_or_missing_login_is_an_auth_error_without_the_password() {
    let (m, _dir) = locked_server();
    let wrong = client_as(&m, "alice", "hunter2");
    let (kind, message) = fail(wrong.get(b"k"));
    assert_eq!(
        (kind, message.as_str()),
        (
            Kind::Auth,
            format!(
                "{}: login as \"alice\" refused: CLIENT_ERROR authentication failure",
                m.spec()
            )
            .as_str()
        )
    );
    assert!(!message.contains("hunter2"));
    assert!(!format!("{:?}", wrong.options()).contains("hunter2"));
    // No login at all: memcached's "unauthenticated", as AUTH.
    let none = Client::new(&[m.spec()]).unwrap();
    assert_eq!(
        fail(none.get(b"k")),
        (
            Kind::Auth,
            format!(
                "{}: CLIENT_ERROR unauthenticated: the server requires a login (a username \
                 and password for the handle)",
                m.spec()
            )
        )
    );
    // The handle still works once the login is right.
    wrong
        .update_options(|o| {
            o.auth = Some(Credentials::new("alice", "secret")?);
            Ok::<(), memcache::Error>(())
        })
        .unwrap();
    assert_eq!(wrong.get(b"k"), Ok(None));
}

#[test]
fn credentials_are_checked_and_never_shown() {
    let bad = |u: &str, p: &str| {
        let e = Credentials::new(u, p).unwrap_err();
        (e.kind(), e.message().to_string())
    };
    assert_eq!(
        bad("al ice", "pw"),
        (
            Kind::Invalid,
            "bad username \"al ice\": must be a word without spaces or control characters"
                .to_string()
        )
    );
    assert_eq!(
        bad("", "pw"),
        (Kind::Invalid, "a login needs a username".to_string())
    );
    assert_eq!(
        bad("alice", ""),
        (
            Kind::Invalid,
            "the login of \"alice\" needs a password".to_string()
        )
    );
    assert_eq!(
        bad("alice", "a\nb"),
        (
            Kind::Invalid,
            "bad password: must not hold control characters".to_string()
        )
    );
    let c = Credentials::new("alice", "s3cr3t!").unwrap();
    assert_eq!(
        format!("{c:?}"),
        "Credentials { username: \"alice\", password: \"********\" }"
    );
    let options = Options {
        auth: Some(c),
        ..Options::default()
    };
    assert!(!format!("{options:?}").contains("s3cr3t"));
}
