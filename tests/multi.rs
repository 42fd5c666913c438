//! A client over three real memcached servers: key placement
//! (python-memcached's crc32 rule), pipelined multi-key operations, a dead
//! server among live ones.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::thread;

use memcache::cluster::bucket;
use memcache::{Client, Kind, Status};
use support::Memcached;

struct Cluster {
    servers: Vec<Memcached>,
    /// The client over all three, in this order.
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
        client,
        direct,
    }
}

fn fail<T: Debug>(r: memcache::Result<T>) -> (Kind, String) {
    let e = r.unwrap_err();
    (e.kind(), e.message().to_string())
}

/// A numeric statistic of every server, in server order.
fn stat_each(c: &Client, name: &str) -> Vec<u64> {
    c.stats(None)
        .unwrap()
        .into_iter()
        .map(|stats| {
            stats
                .into_iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no stat {name}"))
                .1
                .parse()
                .unwrap()
        })
        .collect()
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key{i}")).collect()
}

fn value_of(key: &str) -> Vec<u8> {
    format!("value of {key}").into_bytes()
}

/// How many of `keys` each of 3 servers holds by the placement rule.
fn per_server(keys: &[String]) -> Vec<u64> {
    let mut counts = vec![0u64; 3];
    for k in keys {
        counts[bucket(k.as_bytes(), 3)] += 1;
    }
    counts
}

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
}

#[test]
fn keys_spread_over_all_servers_where_the_rule_puts_them() {
    let cl = cluster();
    let keys = keys(300);
    for k in &keys {
        assert_eq!(
            cl.client.set(k.as_bytes(), &value_of(k), 0, 0).unwrap(),
            Status::Stored
        );
    }
    let expected = per_server(&keys);
    assert!(expected.iter().all(|&n| n > 0), "{expected:?}");
    assert_eq!(stat_each(&cl.client, "curr_items"), expected);
    // Each key is on the server bucket() names, and only there.
    for k in &keys {
        let home = bucket(k.as_bytes(), 3);
        for (i, d) in cl.direct.iter().enumerate() {
            let got = d.get(k.as_bytes()).unwrap().map(|item| item.value);
            if i == home {
                assert_eq!(got, Some(value_of(k)), "{k} on server {i}");
            } else {
                assert_eq!(got, None, "{k} on server {i}");
            }
        }
    }
    // And readable through the cluster client, one by one and at once.
    for k in &keys {
        let item = cl.client.get(k.as_bytes()).unwrap().unwrap();
        assert_eq!(item.value, value_of(k));
    }
    let hits = cl.client.get_many(&keys).unwrap();
    let got: BTreeMap<String, Vec<u8>> = hits
        .into_iter()
        .map(|h| (String::from_utf8(h.key).unwrap(), h.item.value))
        .collect();
    let want: BTreeMap<String, Vec<u8>> = keys.iter().map(|k| (k.clone(), value_of(k))).collect();
    assert_eq!(got, want);
}

#[test]
fn get_many_sends_one_request_per_server() {
    let cl = cluster();
    let keys = keys(100);
    // Stored directly on each key's server, not through the cluster client.
    for k in &keys {
        let d = &cl.direct[bucket(k.as_bytes(), 3)];
        assert_eq!(
            d.set(k.as_bytes(), &value_of(k), 7, 0).unwrap(),
            Status::Stored
        );
    }
    let mut asked: Vec<String> = keys.clone();
    asked.extend((0..20).map(|i| format!("missing{i}")));
    let before = stat_each(&cl.client, "bytes_read");
    let hits = cl.client.get_many(&asked).unwrap();
    let after = stat_each(&cl.client, "bytes_read");
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
                .filter(|k| bucket(k.as_bytes(), 3) == i)
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
    assert_eq!(stat_each(&cl.client, "cmd_set"), per_server(&keys));
    for (k, v, f) in &items {
        let item = cl.direct[bucket(k.as_bytes(), 3)]
            .get(k.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!((&item.value, item.flags), (v, *f));
    }
    // Delete every third key plus some never stored, in a mixed order.
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
    // Deleting again finds nothing.
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
    assert_eq!(stat_each(&cl.client, "curr_items"), per_server(&left));
    let mut hits: Vec<String> = cl
        .client
        .get_many(&keys)
        .unwrap()
        .into_iter()
        .map(|h| String::from_utf8(h.key).unwrap())
        .collect();
    hits.sort();
    let mut want = left.clone();
    want.sort();
    assert_eq!(hits, want);
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
    assert_eq!(stat_each(&cl.client, "pid"), pids);
    for k in keys(30) {
        assert_eq!(
            cl.client.set(k.as_bytes(), b"v", 0, 0).unwrap(),
            Status::Stored
        );
    }
    assert_eq!(cl.client.flush_all(None), Ok(()));
    assert_eq!(cl.client.get_many(&keys(30)).unwrap(), vec![]);
    assert_eq!(stat_each(&cl.client, "cmd_flush"), vec![1, 1, 1]);
    assert_eq!(cl.client.verbosity(1), Ok(()));
    for d in &cl.direct {
        let settings = d.stats(Some("settings")).unwrap();
        let verbosity = settings[0].iter().find(|(n, _)| n == "verbosity").unwrap();
        assert_eq!(verbosity.1, "1");
    }
}

#[test]
fn a_dead_server_fails_only_its_keys() {
    let mut cl = cluster();
    let keys = keys(30);
    for k in &keys {
        assert_eq!(
            cl.client.set(k.as_bytes(), &value_of(k), 0, 0).unwrap(),
            Status::Stored
        );
    }
    cl.servers[1].kill();
    let refused = (
        Kind::Io,
        format!(
            "{}: cannot connect: Connection refused (os error 111)",
            cl.servers[1].spec()
        ),
    );
    for k in &keys {
        let got = cl.client.get(k.as_bytes());
        if bucket(k.as_bytes(), 3) == 1 {
            assert_eq!(fail(got), refused, "{k}");
        } else {
            assert_eq!(got.unwrap().unwrap().value, value_of(k), "{k}");
        }
    }
    assert_eq!(fail(cl.client.get_many(&keys)), refused);
    assert_eq!(fail(cl.client.version()), refused);
    // The live servers' connections are still in step after the failed
    // multi-key call.
    let live: Vec<&String> = keys
        .iter()
        .filter(|k| bucket(k.as_bytes(), 3) != 1)
        .collect();
    assert_eq!(cl.client.get_many(&live).unwrap().len(), live.len());
    cl.servers[1].restart();
    let on_restarted: Vec<&String> = keys
        .iter()
        .filter(|k| bucket(k.as_bytes(), 3) == 1)
        .collect();
    assert_eq!(cl.client.get_many(&on_restarted).unwrap(), vec![]);
    assert_eq!(cl.client.get_many(&keys).unwrap().len(), live.len());
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
    assert_eq!(stat_each(&client, "curr_items"), per_server(&all));
}
