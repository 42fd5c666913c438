//! A client over several real memcached servers: key placement (ketama by
//! default, python-memcached's modula on request, placement values),
//! pipelined multi-key operations, server list changes, and the failure
//! policy (dead marks, fail-fast, failover, revival).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use memcache::cluster::{bucket, Distribution, Placement};
use memcache::{Client, Kind, Options, Status};
use support::{fail, pause, resume, stat_each_u64, FullBacklog, Memcached};

struct Cluster {
    servers: Vec<Memcached>,
    specs: Vec<String>,
    /// The client over all three, in this order (default settings: ketama,
    /// 30 s retry interval, no failover).
    client: Client,
    /// One single-server client per server, to look at each directly.
    direct: Vec<Client>,
}

fn cluster() -> Cluster {
    let servers: Vec<Memcached> = (0..3).map(|_| Memcached::tcp_checked(&[])).collect();
    let specs: Vec<String> = servers.iter().map(Memcached::spec).collect();
    let client = Client::new(&specs).unwrap();
    let direct = specs.iter().map(|s| Client::new(&[s]).unwrap()).collect();
    Cluster {
        servers,
        specs,
        client,
        direct,
    }
}

/// `message` with the wait of a dead mark ("retried in 29 s", "in 480 ms")
/// replaced by "retried in N", for exact comparison.
fn masked(message: &str) -> String {
    match message.rsplit_once("retried in ") {
        Some((head, _)) => format!("{head}retried in N"),
        None => message.to_string(),
    }
}

fn fail_masked<T: Debug>(r: memcache::Result<T>) -> (Kind, String) {
    let (kind, message) = fail(r);
    (kind, masked(&message))
}

/// The error of a request to `spec` while it is marked dead after `why`.
fn dead(spec: &str, why: &str) -> (Kind, String) {
    (
        Kind::Io,
        format!("{spec}: marked dead after \"{why}\", retried in N"),
    )
}

const REFUSED: &str = "cannot connect: Connection refused (os error 111)";
const NO_REPLY: &str = "no reply within 200 ms";

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key{i}")).collect()
}

fn value_of(key: &str) -> Vec<u8> {
    format!("value of {key}").into_bytes()
}

/// How many of `keys` each server holds by `c`'s distribution.
fn per_server(c: &Client, keys: &[String]) -> Vec<u64> {
    let mut counts = vec![0u64; c.servers().count()];
    for k in keys {
        counts[c.server_for(k.as_bytes()).unwrap()] += 1;
    }
    counts
}

/// Which of the direct clients hold `key`.
fn holders(direct: &[Client], key: &str) -> Vec<usize> {
    direct
        .iter()
        .enumerate()
        .filter(|(_, d)| d.get(key.as_bytes()).unwrap().is_some())
        .map(|(i, _)| i)
        .collect()
}

fn with(c: &Client, change: impl FnOnce(&mut Options)) {
    c.update_options(|o| {
        change(o);
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
}

// ----- placement -----

#[test]
fn bucket_is_python_memcacheds_crc32_rule() {
    // Computed with Python: ((binascii.crc32(key) & 0xffffffff) >> 16) & 0x7fff,
    // then modulo the number of servers.
    let python: [(&str, u32); 10] = [
        ("foo", 3187),
        ("bar", 30463),
        ("key0", 23387),
        ("key1", 11356),
        ("key2", 13653),
        ("key3", 16978),
        ("key4", 23606),
        ("key5", 11057),
        ("a", 26807),
        ("schlüssel", 26106),
    ];
    for (key, hash) in python {
        for count in [1usize, 2, 3, 5] {
            assert_eq!(
                bucket(key.as_bytes(), count),
                hash as usize % count,
                "{key} over {count}"
            );
        }
    }
    // A modula client with weights 1 picks the same.
    let c = Client::new(&["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]).unwrap();
    c.set_distribution(Distribution::Modula).unwrap();
    for (key, hash) in python {
        assert_eq!(c.server_for(key.as_bytes()).unwrap(), hash as usize % 3);
    }
}

#[test]
fn keys_spread_over_all_servers_where_the_distribution_puts_them() {
    let cl = cluster();
    for distribution in [Distribution::Ketama, Distribution::Modula] {
        cl.client.set_distribution(distribution).unwrap();
        let keys = keys(300);
        for k in &keys {
            assert_eq!(
                cl.client.set(k.as_bytes(), &value_of(k), 0, 0).unwrap(),
                Status::Stored
            );
        }
        let expected = per_server(&cl.client, &keys);
        assert!(expected.iter().all(|&n| n > 50), "{expected:?}");
        assert_eq!(stat_each_u64(&cl.client, "curr_items"), expected);
        // Each key is on the server server_for() names, and only there.
        for k in &keys {
            let home = cl.client.server_for(k.as_bytes()).unwrap();
            assert_eq!(holders(&cl.direct, k), vec![home], "{k} {distribution:?}");
        }
        let hits = cl.client.get_many(&keys).unwrap();
        let got: BTreeMap<String, Vec<u8>> = hits
            .into_iter()
            .map(|h| (String::from_utf8(h.key).unwrap(), h.item.value))
            .collect();
        let want: BTreeMap<String, Vec<u8>> =
            keys.iter().map(|k| (k.clone(), value_of(k))).collect();
        assert_eq!(got, want);
        // Deleted where they are (not flushed: flushed items stay counted
        // in curr_items until memcached's crawler reclaims them).
        assert!(cl.client.delete_many(&keys).unwrap().iter().all(|&had| had));
    }
}

#[test]
fn get_many_sends_one_request_per_server() {
    let cl = cluster();
    let keys = keys(100);
    // Stored directly on each key's server, not through the cluster client.
    for k in &keys {
        let d = &cl.direct[cl.client.server_for(k.as_bytes()).unwrap()];
        assert_eq!(
            d.set(k.as_bytes(), &value_of(k), 7, 0).unwrap(),
            Status::Stored
        );
    }
    let mut asked: Vec<String> = keys.clone();
    asked.extend((0..20).map(|i| format!("missing{i}")));
    let before = stat_each_u64(&cl.client, "bytes_read");
    let hits = cl.client.get_many(&asked).unwrap();
    let after = stat_each_u64(&cl.client, "bytes_read");
    assert_eq!(hits.len(), 100);
    let got: BTreeSet<(String, Vec<u8>, u32)> = hits
        .into_iter()
        .map(|h| {
            (
                String::from_utf8(h.key).unwrap(),
                h.item.value,
                h.item.flags,
            )
        })
        .collect();
    let want: BTreeSet<(String, Vec<u8>, u32)> =
        keys.iter().map(|k| (k.clone(), value_of(k), 7)).collect();
    assert_eq!(got, want);
    // Each server read one "gets" line with exactly its keys, plus the
    // second stats request ("stats\r\n").
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let line: usize = "gets\r\n".len()
            + asked
                .iter()
                .filter(|k| cl.client.server_for(k.as_bytes()).unwrap() == i)
                .map(|k| 1 + k.len())
                .sum::<usize>();
        assert_eq!(a - b, (line + "stats\r\n".len()) as u64, "server {i}");
    }
}

#[test]
fn set_many_and_delete_many_across_servers() {
    let cl = cluster();
    let keys = keys(60);
    let items: Vec<(String, Vec<u8>, u32)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), value_of(k), i as u32))
        .collect();
    let items_ref: Vec<(&[u8], &[u8], u32)> = items
        .iter()
        .map(|(k, v, f)| (k.as_bytes(), v.as_slice(), *f))
        .collect();
    assert_eq!(
        cl.client.set_many(&items_ref, 0).unwrap(),
        vec![Ok(Status::Stored); 60]
    );
    assert_eq!(
        stat_each_u64(&cl.client, "cmd_set"),
        per_server(&cl.client, &keys)
    );
    for (k, v, f) in &items {
        let item = cl.direct[cl.client.server_for(k.as_bytes()).unwrap()]
            .get(k.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!((&item.value, item.flags), (v, *f));
    }
    let mut doomed: Vec<String> = Vec::new();
    let mut expected: Vec<bool> = Vec::new();
    for (i, k) in keys.iter().enumerate().rev() {
        if i % 3 == 0 {
            doomed.push(k.clone());
            expected.push(true);
        }
        if i % 10 == 0 {
            doomed.push(format!("never{i}"));
            expected.push(false);
        }
    }
    assert_eq!(cl.client.delete_many(&doomed).unwrap(), expected);
    assert_eq!(
        cl.client.delete_many(&doomed).unwrap(),
        vec![false; doomed.len()]
    );
    let left: Vec<String> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(
        stat_each_u64(&cl.client, "curr_items"),
        per_server(&cl.client, &left)
    );
}

#[test]
fn whole_server_commands_reach_every_server() {
    let cl = cluster();
    assert_eq!(
        cl.client.version().unwrap(),
        vec![support::memcached_version(); 3]
    );
    let pids: Vec<u64> = cl
        .servers
        .iter()
        .map(|m| u64::from(m.pid().unwrap()))
        .collect();
    assert_eq!(stat_each_u64(&cl.client, "pid"), pids);
    for k in keys(30) {
        assert_eq!(
            cl.client.set(k.as_bytes(), b"v", 0, 0).unwrap(),
            Status::Stored
        );
    }
    assert_eq!(cl.client.flush_all(None), Ok(()));
    assert_eq!(cl.client.get_many(&keys(30)).unwrap(), vec![]);
    assert_eq!(stat_each_u64(&cl.client, "cmd_flush"), vec![1, 1, 1]);
}

#[test]
fn weights_give_a_server_more_keys() {
    let cl = cluster();
    let weighted = Client::new(&[
        format!("{}*1", cl.specs[0]),
        format!("{}*2", cl.specs[1]),
        format!("{}*5", cl.specs[2]),
    ])
    .unwrap();
    assert_eq!(
        weighted
            .servers()
            .map(|s| (s.name, s.weight))
            .collect::<Vec<_>>(),
        vec![
            (cl.specs[0].clone(), 1),
            (cl.specs[1].clone(), 2),
            (cl.specs[2].clone(), 5)
        ]
    );
    let keys = keys(4000);
    for distribution in [Distribution::Ketama, Distribution::Modula] {
        weighted.set_distribution(distribution).unwrap();
        let items: Vec<(&String, &[u8], u32)> = keys.iter().map(|k| (k, &b"w"[..], 0)).collect();
        assert_eq!(
            weighted.set_many(&items, 0).unwrap(),
            vec![Ok(Status::Stored); keys.len()]
        );
        let counts = stat_each_u64(&weighted, "curr_items");
        assert_eq!(counts, per_server(&weighted, &keys));
        assert_eq!(counts.iter().sum::<u64>(), 4000);
        if distribution == Distribution::Ketama {
            // floor(w / 8 * 40 * 3) * 4 points: 60, 120, 300. How many
            // keys that gives depends on where the points fall (the
            // server names), so only the points are exact.
            let servers: Vec<_> = weighted.servers().collect();
            let placement = Placement::of_servers(distribution, &servers);
            let points: Vec<usize> = (0..3)
                .map(|n| placement.points().iter().filter(|(_, s)| *s == n).count())
                .collect();
            assert_eq!(points, vec![60, 120, 300]);
        } else {
            // Shares 1/8, 2/8, 5/8 of 4000 = 500, 1000, 2500, within 5%.
            for (c, share) in counts.iter().zip([500.0, 1000.0, 2500.0]) {
                assert!((*c as f64 - share).abs() < share * 0.05, "{counts:?}");
            }
        }
        // Deleted where they are, so the next distribution's counts start
        // from none: flush_all would leave them counted in curr_items
        // until memcached's crawler reclaims them, whenever that is.
        assert!(weighted.delete_many(&keys).unwrap().iter().all(|&had| had));
        assert_eq!(stat_each_u64(&weighted, "curr_items"), vec![0, 0, 0]);
        // The modula buckets are [0, 1, 1, 2, 2, 2, 2, 2]: python-memcached's.
        if distribution == Distribution::Modula {
            let buckets = [0, 1, 1, 2, 2, 2, 2, 2];
            for k in keys.iter().take(200) {
                assert_eq!(
                    weighted.server_for(k.as_bytes()).unwrap(),
                    buckets[bucket(k.as_bytes(), 8)]
                );
            }
        }
    }
}

#[test]
fn a_placement_value_keeps_related_keys_on_one_server() {
    let cl = cluster();
    let place = b"user:42";
    let home = cl.client.server_for_place(place);
    let at = cl.client.placed(place);
    let keys: Vec<String> = (0..30).map(|i| format!("user42-field{i}")).collect();
    // Their own hashes spread them; the placement value does not.
    let own: BTreeSet<usize> = keys
        .iter()
        .map(|k| cl.client.server_for(k.as_bytes()).unwrap())
        .collect();
    assert_eq!(own.len(), 3);
    for k in &keys {
        assert_eq!(at.server_for(k.as_bytes()), Ok(home));
    }
    let items: Vec<(&String, Vec<u8>, u32)> = keys.iter().map(|k| (k, value_of(k), 3)).collect();
    assert_eq!(
        at.set_many(&items, 0).unwrap(),
        vec![Ok(Status::Stored); keys.len()]
    );
    let mut items_per_server = vec![0u64; 3];
    items_per_server[home] = keys.len() as u64;
    assert_eq!(stat_each_u64(&cl.client, "curr_items"), items_per_server);
    // One request to one server reads them all.
    let before = stat_each_u64(&cl.client, "cmd_get");
    let hits = at.get_many(&keys).unwrap();
    assert_eq!(hits.len(), keys.len());
    let after = stat_each_u64(&cl.client, "cmd_get");
    let gets: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let mut want = vec![0u64; 3];
    want[home] = keys.len() as u64; // memcached counts a key per get
    assert_eq!(gets, want);
    // Single-key operations with the same placement value.
    let k = keys[0].as_bytes();
    assert_eq!(at.get(k).unwrap().unwrap().value, value_of(&keys[0]));
    assert_eq!(at.add(k, b"x", 0, 0).unwrap(), Status::NotStored);
    assert_eq!(at.append(k, b"+").unwrap(), Status::Stored);
    assert_eq!(at.exists(k), Ok(true));
    assert_eq!(at.flags(k), Ok(Some(3)));
    assert_eq!(at.set(b"n", b"5", 0, 0).unwrap(), Status::Stored);
    assert_eq!(at.incr(b"n", 2), Ok(Some(7)));
    assert_eq!(at.decr(b"n", 1), Ok(Some(6)));
    assert_eq!(at.touch(b"n", 100), Ok(true));
    assert_eq!(cl.direct[home].get(b"n").unwrap().unwrap().value, b"6");
    // Without the placement value, only keys whose own server is the same
    // are found.
    for key in &keys {
        let found = cl.client.get(key.as_bytes()).unwrap().is_some();
        assert_eq!(
            found,
            cl.client.server_for(key.as_bytes()).unwrap() == home,
            "{key}"
        );
    }
    assert_eq!(at.delete_many(&keys).unwrap(), vec![true; keys.len()]);
    assert_eq!(at.delete(b"n"), Ok(true));
    assert_eq!(stat_each_u64(&cl.client, "curr_items"), vec![0, 0, 0]);
}

#[test]
fn modula_placement_values_are_python_memcacheds_hash_values() {
    let cl = cluster();
    cl.client.set_distribution(Distribution::Modula).unwrap();
    // python-memcached: (42, key) goes to buckets[42 % 3], (-1, key) to
    // buckets[-1 % 3] == buckets[2].
    for (place, home) in [
        (&b"42"[..], 0),
        (b"43", 1),
        (b"-1", 2),
        (b"1000000000000000000000", 1),
    ] {
        assert_eq!(cl.client.server_for_place(place), home);
        let at = cl.client.placed(place);
        assert_eq!(at.set(b"k", place, 0, 0).unwrap(), Status::Stored);
        assert_eq!(cl.direct[home].get(b"k").unwrap().unwrap().value, place);
    }
    // Not a number: hashed like a key.
    assert_eq!(cl.client.server_for_place(b"user42"), bucket(b"user42", 3));
}

#[test]
fn set_servers_changes_the_list_and_keeps_unchanged_servers_connections() {
    let cl = cluster();
    let two = Client::new(&cl.specs[..2]).unwrap();
    let keys = keys(600);
    for k in &keys {
        assert_eq!(
            two.set(k.as_bytes(), &value_of(k), 0, 0).unwrap(),
            Status::Stored
        );
    }
    let before: Vec<usize> = keys
        .iter()
        .map(|k| two.server_for(k.as_bytes()).unwrap())
        .collect();
    let connections = stat_each_u64(&cl.direct[0], "total_connections")[0];
    two.set_servers(&cl.specs).unwrap();
    assert_eq!(two.servers().map(|s| s.name).collect::<Vec<_>>(), cl.specs);
    let after: Vec<usize> = keys
        .iter()
        .map(|k| two.server_for(k.as_bytes()).unwrap())
        .collect();
    // Ketama: keys only move to the new server, about a third of them.
    let moved: Vec<usize> = (0..keys.len()).filter(|&i| before[i] != after[i]).collect();
    assert!(moved.iter().all(|&i| after[i] == 2));
    assert!(moved.len() > 120 && moved.len() < 280, "{}", moved.len());
    // Those that stayed are found; those that moved are misses now.
    let hits: BTreeSet<String> = two
        .get_many(&keys)
        .unwrap()
        .into_iter()
        .map(|h| String::from_utf8(h.key).unwrap())
        .collect();
    let stayed: BTreeSet<String> = (0..keys.len())
        .filter(|i| !moved.contains(i))
        .map(|i| keys[i].clone())
        .collect();
    assert_eq!(hits, stayed);
    // Server 0 kept its pooled connection: no connection was opened to it
    // (the direct client reuses its own for stats).
    assert_eq!(
        stat_each_u64(&cl.direct[0], "total_connections")[0],
        connections
    );
    // A bad list changes nothing.
    assert_eq!(
        fail(two.set_servers(&["127.0.0.1:0"])),
        (
            Kind::Invalid,
            "bad server \"127.0.0.1:0\": port \"0\" is not a number from 1 to 65535".to_string()
        )
    );
    assert_eq!(
        fail(two.set_servers::<&str>(&[])),
        (Kind::Invalid, "no server given".to_string())
    );
    assert_eq!(two.servers().count(), 3);
    // Weights through set_servers.
    two.set_servers(&[format!("{}*3", cl.specs[0]), cl.specs[1].clone()])
        .unwrap();
    assert_eq!(
        two.servers().map(|s| s.weight).collect::<Vec<_>>(),
        vec![3, 1]
    );
}

// ----- the failure policy -----

#[test]
fn a_server_that_times_out_fails_fast_until_its_dead_mark_passes() {
    let cl = cluster();
    let interval = Duration::from_millis(700);
    with(&cl.client, |o| {
        o.retry_interval = interval;
        o.io_timeout = Duration::from_millis(200);
    });
    let keys = keys(60);
    for k in &keys {
        assert_eq!(
            cl.client.set(k.as_bytes(), &value_of(k), 0, 0).unwrap(),
            Status::Stored
        );
    }
    let (on_1, live): (Vec<&String>, Vec<&String>) = keys
        .iter()
        .partition(|k| cl.client.server_for(k.as_bytes()).unwrap() == 1);
    assert!(!on_1.is_empty() && !live.is_empty());
    pause(&cl.servers[1]);
    let spec = cl.specs[1].clone();
    let refused = (Kind::Timeout, format!("{spec}: {NO_REPLY}"));
    // The first request finds it silent; the server is marked dead.
    assert_eq!(fail(cl.client.get(on_1[0].as_bytes())), refused);
    assert!(cl.client.dead_for(1).unwrap().is_some());
    assert_eq!(cl.client.dead_for(0), Ok(None));
    // Then every key of it fails at once, naming it; the others work.
    let start = Instant::now();
    for k in &keys {
        let got = cl.client.get(k.as_bytes());
        if cl.client.server_for(k.as_bytes()).unwrap() == 1 {
            assert_eq!(fail_masked(got), dead(&spec, NO_REPLY), "{k}");
        } else {
            assert_eq!(got.unwrap().unwrap().value, value_of(k), "{k}");
        }
    }
    assert!(start.elapsed() < interval);
    let message = fail(cl.client.get(on_1[0].as_bytes())).1;
    assert!(
        message.ends_with(" ms") && message.starts_with(&format!("{spec}: marked dead after")),
        "{message}"
    );
    // Multi-key calls: strict ones fail naming it (after doing the rest);
    // get_many_partial returns the live servers' hits and the error.
    assert_eq!(
        fail_masked(cl.client.get_many(&keys)),
        dead(&spec, NO_REPLY)
    );
    let (hits, errors) = cl.client.get_many_partial(&keys).unwrap();
    let got: BTreeSet<String> = hits
        .into_iter()
        .map(|h| String::from_utf8(h.key).unwrap())
        .collect();
    assert_eq!(got, live.iter().map(|k| k.to_string()).collect());
    assert_eq!(
        errors
            .iter()
            .map(|e| (e.kind(), masked(e.message())))
            .collect::<Vec<_>>(),
        vec![dead(&spec, NO_REPLY)]
    );
    let items: Vec<(&String, &[u8], u32)> = keys.iter().map(|k| (k, &b"again"[..], 0)).collect();
    assert_eq!(
        fail_masked(cl.client.set_many(&items, 0)),
        dead(&spec, NO_REPLY)
    );
    for k in &live {
        assert_eq!(
            cl.client.get(k.as_bytes()).unwrap().unwrap().value,
            b"again"
        );
    }
    assert_eq!(fail_masked(cl.client.version()), dead(&spec, NO_REPLY));
    // Back up, but still inside the interval: still dead.
    resume(&cl.servers[1]);
    assert_eq!(
        fail_masked(cl.client.get(on_1[0].as_bytes())),
        dead(&spec, NO_REPLY)
    );
    // Once the interval has passed, the next request tries it, and it is
    // used again.
    while cl.client.dead_for(1).unwrap() > Some(Duration::ZERO) {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        cl.client.get(on_1[0].as_bytes()).unwrap().unwrap().value,
        value_of(on_1[0])
    );
    assert_eq!(cl.client.dead_for(1), Ok(None));
    assert_eq!(
        cl.client.set(on_1[0].as_bytes(), b"revived", 0, 0),
        Ok(Status::Stored)
    );
    assert_eq!(
        cl.direct[1].get(on_1[0].as_bytes()).unwrap().unwrap().value,
        b"revived"
    );
    assert_eq!(cl.client.version().unwrap().len(), 3);
    // forget_dead: the mark goes at once.
    pause(&cl.servers[1]);
    assert_eq!(fail(cl.client.get(on_1[0].as_bytes())), refused);
    resume(&cl.servers[1]);
    assert_eq!(
        fail_masked(cl.client.get(on_1[0].as_bytes())),
        dead(&spec, NO_REPLY)
    );
    cl.client.forget_dead();
    assert_eq!(cl.client.dead_for(1), Ok(None));
    assert_eq!(
        cl.client.get(on_1[0].as_bytes()).unwrap().unwrap().value,
        b"revived"
    );
}

/// Seed 000: connections "are re-activated automatically if the daemons
/// become available once more". A refused server is not marked dead
/// (without failover): the first command after it is back uses it.
#[test]
fn a_restarted_server_is_used_by_the_next_command() {
    let mut cl = cluster();
    let k = (0..400)
        .map(|i| format!("k{i}"))
        .find(|k| cl.client.server_for(k.as_bytes()).unwrap() == 1)
        .unwrap();
    assert_eq!(cl.client.set(k.as_bytes(), b"v", 0, 0), Ok(Status::Stored));
    cl.servers[1].kill();
    let spec = cl.specs[1].clone();
    // The pooled connection is found closed; a new one is refused.
    assert_eq!(
        fail(cl.client.get(k.as_bytes())),
        (Kind::Io, format!("{spec}: {REFUSED}"))
    );
    assert_eq!(
        fail(cl.client.incr(k.as_bytes(), 1)),
        (Kind::Io, format!("{spec}: {REFUSED}"))
    );
    assert_eq!(cl.client.dead_for(1), Ok(None));
    cl.servers[1].restart();
    assert_eq!(cl.client.get(k.as_bytes()), Ok(None));
    assert_eq!(cl.client.set(k.as_bytes(), b"7", 0, 0), Ok(Status::Stored));
    // Killed again while a connection is pooled: an incr (never sent
    // twice) finds the pooled connection closed before sending, and goes
    // out on a new one once the server is back.
    cl.servers[1].kill();
    cl.servers[1].restart();
    assert_eq!(cl.client.set(k.as_bytes(), b"7", 0, 0), Ok(Status::Stored));
    cl.servers[1].kill();
    cl.servers[1].restart();
    assert_eq!(cl.client.add(k.as_bytes(), b"1", 0, 0), Ok(Status::Stored));
    assert_eq!(cl.client.incr(k.as_bytes(), 5), Ok(Some(6)));
}

/// After SIGSTOP and SIGCONT the server is used again within a second of
/// answering (its first dead mark), whatever the retry interval.
#[test]
fn a_stopped_and_continued_server_is_used_again_within_a_second() {
    let cl = cluster();
    with(&cl.client, |o| o.io_timeout = Duration::from_millis(200));
    let k = (0..400)
        .map(|i| format!("k{i}"))
        .find(|k| cl.client.server_for(k.as_bytes()).unwrap() == 2)
        .unwrap();
    assert_eq!(cl.client.set(k.as_bytes(), b"v", 0, 0), Ok(Status::Stored));
    pause(&cl.servers[2]);
    let spec = cl.specs[2].clone();
    assert_eq!(
        fail(cl.client.get(k.as_bytes())),
        (Kind::Timeout, format!("{spec}: {NO_REPLY}"))
    );
    resume(&cl.servers[2]);
    let left = cl.client.dead_for(2).unwrap().expect("marked dead");
    assert!(left <= Duration::from_secs(1), "{left:?}");
    while cl.client.dead_for(2).unwrap() > Some(Duration::ZERO) {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(cl.client.get(k.as_bytes()).unwrap().unwrap().value, b"v");
    assert_eq!(cl.client.dead_for(2), Ok(None));
}

/// A server whose connections time out costs one connect timeout per
/// retry interval: requests already waiting when it failed each get the
/// timeout, later ones fail at once, and after the interval exactly one
/// request (of many, in many threads) tries it again.
#[test]
fn a_dead_server_costs_one_timeout_per_retry_interval() {
    let live = Memcached::tcp_checked(&[]);
    let blackhole = FullBacklog::new();
    let c = Arc::new(Client::new(&[live.spec(), blackhole.spec()]).unwrap());
    let interval = Duration::from_millis(1500);
    with(&c, |o| {
        o.connect_timeout = Duration::from_millis(300);
        o.retry_interval = interval;
    });
    let on_dead: Vec<String> = (0..400)
        .map(|i| format!("k{i}"))
        .filter(|k| c.server_for(k.as_bytes()).unwrap() == 1)
        .take(20)
        .collect();
    let why = "cannot connect within 300 ms";
    let timeout = (Kind::Timeout, format!("{}: {why}", blackhole.spec()));
    let slow = |took: &Duration| *took >= Duration::from_millis(250);
    for round in 0..3 {
        // 8 threads, 20 requests each, all for the dead server's keys.
        let barrier = Arc::new(Barrier::new(8));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let c = Arc::clone(&c);
                let keys = on_dead.clone();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    keys.iter()
                        .map(|k| {
                            let start = Instant::now();
                            let r = fail_masked(c.get(k.as_bytes()));
                            (start.elapsed(), r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let per_thread: Vec<Vec<(Duration, (Kind, String))>> =
            workers.into_iter().map(|w| w.join().unwrap()).collect();
        let mut slow_ones = 0;
        for results in &per_thread {
            assert_eq!(results.len(), 20);
            // No thread waits more than once; what waits times out, what
            // does not is told the server is dead.
            assert!(
                results.iter().skip(1).all(|(took, _)| !slow(took)),
                "round {round}: {results:?}"
            );
            for (took, r) in results {
                if slow(took) {
                    slow_ones += 1;
                    assert_eq!(r, &timeout, "round {round}");
                } else {
                    assert_eq!(r, &dead(&blackhole.spec(), why), "round {round}");
                }
            }
        }
        if round == 0 {
            // Before the first failure every thread was already waiting.
            assert!((1..=8).contains(&slow_ones), "round 0: {slow_ones}");
        } else {
            // After the interval, one probe among 160 requests.
            assert_eq!(slow_ones, 1, "round {round}");
        }
        // The live server's keys never wait.
        let live_key = (0..100)
            .map(|i| format!("live{i}"))
            .find(|k| c.server_for(k.as_bytes()).unwrap() == 0)
            .unwrap();
        let start = Instant::now();
        assert_eq!(c.set(live_key.as_bytes(), b"v", 0, 0), Ok(Status::Stored));
        assert!(start.elapsed() < Duration::from_millis(100));
        // Wait out the interval: the next round gets one probe again.
        while c.dead_for(1).unwrap() > Some(Duration::ZERO) {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn failover_sends_a_dead_servers_keys_to_the_next_live_server() {
    for distribution in [Distribution::Ketama, Distribution::Modula] {
        let mut cl = cluster();
        with(&cl.client, |o| {
            o.failover = true;
            o.distribution = distribution;
        });
        let servers: Vec<_> = cl.client.servers().collect();
        let placement = Placement::of_servers(distribution, &servers);
        let keys = keys(200);
        let on_1: Vec<&String> = keys
            .iter()
            .filter(|k| cl.client.server_for(k.as_bytes()).unwrap() == 1)
            .collect();
        assert!(on_1.len() > 20);
        cl.servers[1].kill();
        // No errors: each key goes to the first live server of its
        // candidates (ketama: the next point's owner; modula:
        // python-memcached's rehash).
        for k in &on_1 {
            assert_eq!(
                cl.client.set(k.as_bytes(), &value_of(k), 0, 0),
                Ok(Status::Stored),
                "{k}"
            );
            let candidates = placement.candidates(&placement.hash_key(k.as_bytes()));
            assert_eq!(candidates[0], 1);
            let next = *candidates.iter().find(|&&n| n != 1).unwrap();
            let on: Vec<usize> = [0, 2]
                .into_iter()
                .filter(|&i| cl.direct[i].get(k.as_bytes()).unwrap().is_some())
                .collect();
            assert_eq!(on, vec![next], "{k} {distribution:?}");
            assert_eq!(
                cl.client.get(k.as_bytes()).unwrap().unwrap().value,
                value_of(k)
            );
        }
        let hits = cl.client.get_many(&on_1).unwrap();
        assert_eq!(hits.len(), on_1.len(), "{distribution:?}");
        assert_eq!(cl.client.server_for(on_1[0].as_bytes()), Ok(1));
        assert!(cl.client.dead_for(1).unwrap().is_some());
    }
}

/// Why failover is off by default: while a server is away its keys live
/// elsewhere, and when it comes back its old copies are served again.
#[test]
fn failover_can_serve_stale_data_when_a_server_comes_back() {
    let cl = cluster();
    with(&cl.client, |o| {
        o.failover = true;
        o.io_timeout = Duration::from_millis(300);
        o.retry_interval = Duration::from_millis(800);
    });
    let key = (0..100)
        .map(|i| format!("stale{i}"))
        .find(|k| cl.client.server_for(k.as_bytes()).unwrap() == 1)
        .unwrap();
    let k = key.as_bytes();
    assert_eq!(cl.client.set(k, b"old", 0, 0), Ok(Status::Stored));
    pause(&cl.servers[1]);
    // A request already sent when the server stopped answering is not
    // sent again elsewhere: the caller gets the timeout.
    assert_eq!(
        fail(cl.client.get(k)),
        (
            Kind::Timeout,
            format!("{}: no reply within 300 ms", cl.specs[1])
        )
    );
    // Then its keys go to the next server.
    assert_eq!(cl.client.set(k, b"new", 0, 0), Ok(Status::Stored));
    assert_eq!(cl.client.get(k).unwrap().unwrap().value, b"new");
    resume(&cl.servers[1]);
    while cl.client.dead_for(1).unwrap() > Some(Duration::ZERO) {
        thread::sleep(Duration::from_millis(20));
    }
    // Back home: the old copy.
    assert_eq!(cl.client.get(k).unwrap().unwrap().value, b"old");
}

#[test]
fn without_failover_a_timeout_marks_the_server_dead_too() {
    let cl = cluster();
    with(&cl.client, |o| o.io_timeout = Duration::from_millis(300));
    let key = (0..100)
        .map(|i| format!("t{i}"))
        .find(|k| cl.client.server_for(k.as_bytes()).unwrap() == 2)
        .unwrap();
    assert_eq!(
        cl.client.set(key.as_bytes(), b"v", 0, 0),
        Ok(Status::Stored)
    );
    pause(&cl.servers[2]);
    let why = "no reply within 300 ms";
    assert_eq!(
        fail(cl.client.get(key.as_bytes())),
        (Kind::Timeout, format!("{}: {why}", cl.specs[2]))
    );
    let start = Instant::now();
    assert_eq!(
        fail_masked(cl.client.get(key.as_bytes())),
        dead(&cl.specs[2], why)
    );
    assert!(start.elapsed() < Duration::from_millis(100));
    resume(&cl.servers[2]);
    // A miss or a refused store does not mark a server dead.
    let elsewhere = (0..100)
        .map(|i| format!("m{i}"))
        .find(|k| cl.client.server_for(k.as_bytes()).unwrap() == 0)
        .unwrap();
    assert_eq!(cl.client.get(elsewhere.as_bytes()), Ok(None));
    assert_eq!(
        cl.client.replace(elsewhere.as_bytes(), b"v", 0, 0),
        Ok(Status::NotStored)
    );
    assert_eq!(cl.client.dead_for(0), Ok(None));
    assert!(cl.client.dead_for(2).unwrap().is_some());
}

#[test]
fn retry_interval_zero_marks_nothing() {
    let mut cl = cluster();
    with(&cl.client, |o| o.retry_interval = Duration::ZERO);
    let key = (0..100)
        .map(|i| format!("z{i}"))
        .find(|k| cl.client.server_for(k.as_bytes()).unwrap() == 0)
        .unwrap();
    cl.servers[0].kill();
    let refused = (Kind::Io, format!("{}: {REFUSED}", cl.specs[0]));
    for _ in 0..3 {
        assert_eq!(fail(cl.client.get(key.as_bytes())), refused);
    }
    assert_eq!(cl.client.dead_for(0), Ok(None));
    cl.servers[0].restart();
    assert_eq!(cl.client.get(key.as_bytes()), Ok(None));
}

#[test]
fn threads_share_a_cluster_client() {
    let cl = cluster();
    let client = Arc::new(cl.client);
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let c = Arc::clone(&client);
            thread::spawn(move || {
                for round in 0..100 {
                    let items: Vec<(String, String, u32)> = (0..10)
                        .map(|i| (format!("t{t}-{i}"), format!("t{t} r{round} i{i}"), round))
                        .collect();
                    assert_eq!(c.set_many(&items, 0).unwrap(), vec![Ok(Status::Stored); 10]);
                    let keys: Vec<&String> = items.iter().map(|(k, _, _)| k).collect();
                    let mut hits = c.get_many(&keys).unwrap();
                    hits.sort_by(|a, b| a.key.cmp(&b.key));
                    let mut want: Vec<(Vec<u8>, Vec<u8>, u32)> = items
                        .iter()
                        .map(|(k, v, f)| (k.clone().into_bytes(), v.clone().into_bytes(), *f))
                        .collect();
                    want.sort();
                    let got: Vec<(Vec<u8>, Vec<u8>, u32)> = hits
                        .into_iter()
                        .map(|h| (h.key, h.item.value, h.item.flags))
                        .collect();
                    assert_eq!(got, want, "thread {t} round {round}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let all: Vec<String> = (0..8)
        .flat_map(|t| (0..10).map(move |i| format!("t{t}-{i}")))
        .collect();
    assert_eq!(
        stat_each_u64(&client, "curr_items"),
        per_server(&client, &all)
    );
}

/// One server, unreachable, with failover: the many-key calls fail with
/// its error (nowhere else to go), and then with its dead mark, as the
/// one-key calls do.
#[test]
fn a_single_dead_server_fails_the_many_key_calls() {
    let mut server = Memcached::tcp_checked(&[]);
    let spec = server.spec();
    let client = Client::new(&[&spec]).unwrap();
    with(&client, |o| o.failover = true);
    assert_eq!(client.set(b"k", b"v", 0, 0), Ok(Status::Stored));
    server.kill();
    let refused = (Kind::Io, format!("{spec}: {REFUSED}"));
    assert_eq!(fail(client.get_many(&["k", "l"])), refused);
    let marked = dead(&spec, REFUSED);
    assert_eq!(fail_masked(client.get_many(&["k", "l"])), marked);
    assert_eq!(fail_masked(client.delete_many(&["k", "l"])), marked);
    assert_eq!(fail_masked(client.set_many(&[("k", "v", 0)], 0)), marked);
    assert_eq!(fail_masked(client.get(b"k")), marked);
}
