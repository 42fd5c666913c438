//! CGI state: read-modify-write without lost updates, and locks, between
//! separate processes (this test binary started again as the children)
//! against a real memcached.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use memcache::{Change, Client, Kind, Status, UPDATE_TRIES};
use support::{fail, Memcached};

/// The spec of the server the children use, when this process is one.
const CHILD_SPEC: &str = "MC_STATE_CHILD_SPEC";
/// What a child does: "append N" or "count N".
const CHILD_JOB: &str = "MC_STATE_CHILD_JOB";

/// Runs `job` in `n` copies of this test binary (each runs the test
/// `child` only), in parallel; returns what each printed.
fn children(spec: &str, job: &str, n: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    // All started first, then all waited for: they run at the same time.
    let running: Vec<_> = (0..n)
        .map(|i| {
            Command::new(&exe)
                .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
                .env(CHILD_SPEC, spec)
                .env(CHILD_JOB, format!("{job} {i}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    running
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "child failed: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            text
        })
        .collect()
}

/// The children's side: does its job and prints "tries N" (the tries its
/// updates took, or the milliseconds its locks waited).
#[test]
fn child() {
    let (Ok(spec), Ok(job)) = (std::env::var(CHILD_SPEC), std::env::var(CHILD_JOB)) else {
        println!("not a child process: nothing to do");
        return;
    };
    let c = Client::new(&[spec]).unwrap();
    let words: Vec<&str> = job.split(' ').collect();
    let (what, count, me): (&str, usize, usize) = (
        words[0],
        words[1].parse().unwrap(),
        words[2].parse().unwrap(),
    );
    let mut measured = 0u64;
    for i in 0..count {
        match what {
            "append" => {
                let mut tries = 0;
                c.update(b"list", 0, |item| {
                    tries += 1;
                    let mut list = item.map(|i| i.value.clone()).unwrap_or_default();
                    list.extend_from_slice(format!("{me}.{i};").as_bytes());
                    Ok::<_, memcache::Error>(Change::Store {
                        value: list,
                        flags: 0,
                    })
                })
                .unwrap();
                measured += tries;
            }
            "count" => {
                let start = Instant::now();
                let token = c
                    .lock(b"counter-lock", 10, Duration::from_secs(30))
                    .unwrap();
                measured += start.elapsed().as_millis() as u64;
                // A plain read and write: correct only under the lock.
                let n: u64 = c
                    .get(b"counter")
                    .unwrap()
                    .map_or(0, |i| String::from_utf8(i.value).unwrap().parse().unwrap());
                c.set(b"counter", (n + 1).to_string().as_bytes(), 0, 0)
                    .unwrap();
                assert!(c.unlock(b"counter-lock", &token).unwrap());
            }
            "hold" => {
                // Takes the lock for `count` seconds, says so, and waits
                // to be killed.
                let token = c.lock(b"held", count as u32, Duration::ZERO).unwrap();
                println!("holding {token}");
                std::thread::sleep(Duration::from_secs(60));
            }
            other => panic!("unknown job {other}"),
        }
    }
    println!("measured {measured}");
}

fn measured(outputs: &[String]) -> Vec<u64> {
    outputs
        .iter()
        .map(|o| {
            o.lines()
                .find_map(|l| l.split("measured ").nth(1))
                .unwrap_or_else(|| panic!("no measure in {o:?}"))
                .parse()
                .unwrap()
        })
        .collect()
}

#[test]
fn eight_processes_appending_by_update_lose_nothing() {
    let m = Memcached::tcp_checked(&[]);
    let outputs = children(&m.spec(), "append 100", 8);
    let c = Client::new(&[m.spec()]).unwrap();
    let list = String::from_utf8(c.get(b"list").unwrap().unwrap().value).unwrap();
    let mut entries: Vec<&str> = list.split_terminator(';').collect();
    assert_eq!(entries.len(), 800);
    entries.sort();
    entries.dedup();
    assert_eq!(entries.len(), 800, "every entry once");
    for me in 0..8 {
        for i in 0..100 {
            assert!(entries.binary_search(&format!("{me}.{i}").as_str()).is_ok());
        }
    }
    let tries = measured(&outputs);
    let total: u64 = tries.iter().sum();
    println!(
        "8 writers x 100 updates: {total} tries for 800 updates ({:.2} per update)",
        total as f64 / 800.0
    );
}

#[test]
fn eight_processes_counting_under_a_lock_count_exactly() {
    let m = Memcached::tcp_checked(&[]);
    let outputs = children(&m.spec(), "count 50", 8);
    let c = Client::new(&[m.spec()]).unwrap();
    assert_eq!(c.get(b"counter").unwrap().unwrap().value, b"400");
    let waited: u64 = measured(&outputs).iter().sum();
    println!(
        "8 processes x 50 locks: {waited} ms waited in all ({:.2} ms per lock)",
        waited as f64 / 400.0
    );
    // Released: the lock is free.
    assert_eq!(c.get(b"counter-lock").unwrap(), None);
}

#[test]
fn update_stores_removes_keeps_and_stops_on_an_error() {
    let m = Memcached::tcp_checked(&[]);
    let c = Client::new(&[m.spec()]).unwrap();
    // No item: `add`.
    let stored = c
        .update(b"u", 0, |item| {
            assert_eq!(item, None);
            Ok::<_, memcache::Error>(Change::Store {
                value: b"1".to_vec(),
                flags: 5,
            })
        })
        .unwrap();
    assert_eq!(
        stored,
        Change::Store {
            value: b"1".to_vec(),
            flags: 5
        }
    );
    let item = c.get(b"u").unwrap().unwrap();
    assert_eq!((item.value.as_slice(), item.flags), (&b"1"[..], 5));
    // Keep: nothing written (the CAS value stays).
    assert_eq!(
        c.update(b"u", 0, |_| Ok::<_, memcache::Error>(Change::Keep)),
        Ok(Change::Keep)
    );
    assert_eq!(c.get(b"u").unwrap().unwrap().cas, item.cas);
    // An error stops at once: nothing stored, the error as it was.
    let e = c
        .update(b"u", 0, |_| {
            Err(memcache::Error::new(Kind::Invalid, "the script failed"))
        })
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (Kind::Invalid, "the script failed")
    );
    assert_eq!(c.get(b"u").unwrap().unwrap().cas, item.cas);
    // Remove.
    assert_eq!(
        c.update(b"u", 0, |_| Ok::<_, memcache::Error>(Change::Remove)),
        Ok(Change::Remove)
    );
    assert_eq!(c.get(b"u").unwrap(), None);
    // A writer that always gets there first: CONFLICT after the tries.
    c.set(b"busy", b"0", 0, 0).unwrap();
    let mut tries = 0;
    let other = Client::new(&[m.spec()]).unwrap();
    let e = c
        .update(b"busy", 0, |_| {
            tries += 1;
            other
                .set(b"busy", format!("{tries}").as_bytes(), 0, 0)
                .unwrap();
            Ok::<_, memcache::Error>(Change::Store {
                value: b"mine".to_vec(),
                flags: 0,
            })
        })
        .unwrap_err();
    assert_eq!(tries, UPDATE_TRIES);
    assert_eq!(
        (e.kind(), e.message().to_string()),
        (
            Kind::Conflict,
            format!(
                "not stored: key \"busy\" was changed by other writers {UPDATE_TRIES} times in a row"
            )
        )
    );
    assert_eq!(
        c.get(b"busy").unwrap().unwrap().value,
        UPDATE_TRIES.to_string().as_bytes()
    );
}

#[test]
fn a_lock_expires_and_its_old_holder_cannot_release_the_new_one() {
    let m = Memcached::tcp_checked(&[]);
    let a = Client::new(&[m.spec()]).unwrap();
    let b = Client::new(&[m.spec()]).unwrap();
    let token_a = a.lock(b"l", 1, Duration::ZERO).unwrap();
    assert_eq!(token_a.len(), 32);
    // Held: B fails after its wait, with the reason.
    let start = Instant::now();
    assert_eq!(
        fail(b.lock(b"l", 1, Duration::from_millis(200))),
        (
            Kind::Conflict,
            "lock \"l\" is held by another holder: not taken within 200 ms".to_string()
        )
    );
    assert!(start.elapsed() >= Duration::from_millis(200));
    // A crashed (never unlocks): B gets the lock once its lifetime ends,
    // waiting for it.
    let token_b = b.lock(b"l", 30, Duration::from_secs(5)).unwrap();
    assert_ne!(token_a, token_b);
    // A's unlock finds the lock no longer its own: 0, and B keeps it.
    assert_eq!(a.unlock(b"l", &token_a), Ok(false));
    assert_eq!(b.get(b"l").unwrap().unwrap().value, token_b.as_bytes());
    assert_eq!(b.unlock(b"l", &token_b), Ok(true));
    assert_eq!(b.unlock(b"l", &token_b), Ok(false));
    assert_eq!(b.get(b"l").unwrap(), None);
    // A lock without a lifetime is refused.
    assert_eq!(fail(a.lock(b"l", 0, Duration::ZERO)).0, Kind::Invalid);
    assert_eq!(a.add(b"l", b"x", 0, 0), Ok(Status::Stored));
}

#[test]
fn a_killed_holder_cannot_keep_a_lock_past_its_lifetime() {
    let m = Memcached::tcp_checked(&[]);
    let exe = std::env::current_exe().unwrap();
    let mut holder = Command::new(&exe)
        .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env(CHILD_SPEC, m.spec())
        .env(CHILD_JOB, "hold 2 0")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it holds the lock, then kill it (SIGKILL: no unlock).
    let c = Client::new(&[m.spec()]).unwrap();
    let start = Instant::now();
    while c.get(b"held").unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the holder did not lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Still held until its lifetime ends; then another process takes it.
    assert_eq!(fail(c.lock(b"held", 10, Duration::ZERO)).0, Kind::Conflict);
    let token = c.lock(b"held", 10, Duration::from_secs(5)).unwrap();
    assert_eq!(c.get(b"held").unwrap().unwrap().value, token.as_bytes());
    assert_eq!(c.unlock(b"held", &token), Ok(true));
}

/// `fetch` on a live item whose lifetime is below `recache`: this caller
/// recomputes it early and stores the new value; the next caller gets it.
#[test]
fn fetch_recomputes_early_under_recache_and_computes_misses_once() {
    let server = Memcached::tcp();
    let client = Client::new(&[server.spec()]).unwrap();
    let options = memcache::FetchOptions {
        lease: 5,
        wait: Duration::from_secs(2),
        recache: 30,
    };
    let mut runs = 0;
    let mut compute = || -> memcache::Result<(Vec<u8>, u32)> {
        runs += 1;
        Ok((format!("value {runs}").into_bytes(), 5))
    };
    // A miss: computed, stored with the flags and lifetime given.
    let got = client.fetch(b"page", 3600, options, &mut compute).unwrap();
    assert_eq!(got, (b"value 1".to_vec(), 5));
    // A hit with an hour left: not recomputed.
    let got = client.fetch(b"page", 3600, options, &mut compute).unwrap();
    assert_eq!(got, (b"value 1".to_vec(), 5));
    // Ten seconds left, under the 30 of recache: recomputed once.
    client.set(b"page", b"old", 0, 10).unwrap();
    let got = client.fetch(b"page", 3600, options, &mut compute).unwrap();
    assert_eq!(got, (b"value 2".to_vec(), 5));
    let got = client.fetch(b"page", 3600, options, &mut compute).unwrap();
    assert_eq!(got, (b"value 2".to_vec(), 5));
    assert_eq!(runs, 2);
    assert!(client.ttl(b"page").unwrap().unwrap() > 3500);
}

/// A server without the meta commands (a proxy, memcached before 1.6)
/// answers ERROR: a clear CLIENT error, and nothing computed.
#[test]
fn fetch_against_a_server_without_meta_is_a_client_error() {
    // A fake server: a real memcached 1.6 has the meta commands.
    let fake = support::FakeServer::start(support::Fake::Reply(b"ERROR\r\n".to_vec()));
    let client = Client::new(&[fake.spec()]).unwrap();
    let mut runs = 0;
    let err = client
        .fetch(
            b"k",
            60,
            memcache::FetchOptions::default(),
            || -> memcache::Result<(Vec<u8>, u32)> {
                runs += 1;
                Ok((b"v".to_vec(), 0))
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Client);
    assert_eq!(
        err.message(),
        format!(
            "{}: ERROR: the server does not know this command",
            fake.spec()
        )
    );
    assert_eq!(runs, 0);
}
