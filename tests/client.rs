//! The `Client` API against a real memcached (started per test on a free
//! port or a temporary Unix socket, so the tests run in parallel).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use memcache::client::{EXPIRED, MAX_RELATIVE_TTL};
use memcache::{Client, Hit, Item, Kind, Options, Status};
use support::{fail, stat_u64, Memcached};

// ----- helpers -----

fn client(m: &Memcached) -> Client {
    Client::new(&[m.spec()]).unwrap()
}

/// Value and flags of a get result (the CAS value is checked on its own).
fn vf(item: Option<Item>) -> Option<(Vec<u8>, u32)> {
    item.map(|i| (i.value, i.flags))
}

fn some(value: &[u8], flags: u32) -> Option<(Vec<u8>, u32)> {
    Some((value.to_vec(), flags))
}

/// The (only) server's general statistics that are numbers, at one moment.
fn counters(c: &Client) -> BTreeMap<String, u64> {
    let mut stats = c.stats(None).unwrap();
    assert_eq!(stats.len(), 1);
    stats
        .pop()
        .unwrap()
        .into_iter()
        .filter_map(|(n, v)| Some((n, v.parse().ok()?)))
        .collect()
}

fn settings(c: &Client) -> BTreeMap<String, String> {
    let mut stats = c.stats(Some("settings")).unwrap();
    assert_eq!(stats.len(), 1);
    stats.pop().unwrap().into_iter().collect()
}

/// Length of the `stats` request the library sends ("stats\r\n"): the
/// server's `bytes_read` grows by exactly this between two `stats` calls
/// when nothing else was sent.
const STATS_REQUEST: u64 = 7;

/// Polls `get(key)` until the item is gone; returns how long that took.
fn wait_gone(c: &Client, key: &[u8], limit: Duration) -> Duration {
    let start = Instant::now();
    while c.get(key).unwrap().is_some() {
        assert!(
            start.elapsed() < limit,
            "{} still there after {limit:?}",
            String::from_utf8_lossy(key)
        );
        thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

// ----- storage commands -----

#[test]
fn set_then_get_overwrites_and_changes_cas() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.set(b"k", b"one", 3, 0).unwrap(), Status::Stored);
    let first = c.get(b"k").unwrap().unwrap();
    assert_eq!(
        first,
        Item {
            value: b"one".to_vec(),
            flags: 3,
            cas: 1 // the first item stored on a fresh server
        }
    );
    assert_eq!(c.set(b"k", b"two", 4, 0).unwrap(), Status::Stored);
    assert_eq!(
        c.get(b"k").unwrap().unwrap(),
        Item {
            value: b"two".to_vec(),
            flags: 4,
            cas: 2
        }
    );
}

#[test]
fn get_miss_is_none() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.get(b"never-set").unwrap(), None);
    assert_eq!(stat_u64(&c, "get_misses"), 1);
}

#[test]
fn add_stores_only_missing_keys() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.add(b"k", b"first", 1, 0).unwrap(), Status::Stored);
    assert_eq!(c.add(b"k", b"second", 2, 0).unwrap(), Status::NotStored);
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"first", 1));
}

#[test]
fn replace_stores_only_existing_keys() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.replace(b"k", b"x", 0, 0).unwrap(), Status::NotStored);
    assert_eq!(c.get(b"k").unwrap(), None);
    assert_eq!(c.set(b"k", b"old", 0, 0).unwrap(), Status::Stored);
    assert_eq!(c.replace(b"k", b"new", 9, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"new", 9));
}

#[test]
fn append_and_prepend_keep_flags() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.append(b"k", b"x").unwrap(), Status::NotStored);
    assert_eq!(c.prepend(b"k", b"x").unwrap(), Status::NotStored);
    assert_eq!(c.get(b"k").unwrap(), None);
    assert_eq!(c.set(b"k", b"middle", 16, 0).unwrap(), Status::Stored);
    assert_eq!(c.append(b"k", b">end").unwrap(), Status::Stored);
    assert_eq!(c.prepend(b"k", b"start<").unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"start<middle>end", 16));
}

#[test]
fn append_or_add_creates_then_appends() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(
        c.append_or_add(b"log", b"a", 16, 0).unwrap(),
        Status::Stored
    );
    assert_eq!(c.append_or_add(b"log", b"b", 0, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"log").unwrap()), some(b"ab", 16));
}

#[test]
fn cas_stored_then_exists_then_not_found() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.set(b"k", b"v1", 0, 0).unwrap(), Status::Stored);
    let cas1 = c.get(b"k").unwrap().unwrap().cas;
    assert_eq!(cas1, 1);
    assert_eq!(c.cas(b"k", b"v2", 5, 0, cas1).unwrap(), Status::Stored);
    assert_eq!(
        c.get(b"k").unwrap().unwrap(),
        Item {
            value: b"v2".to_vec(),
            flags: 5,
            cas: 2
        }
    );
    // The item changed since cas1 was read.
    assert_eq!(c.cas(b"k", b"v3", 0, 0, cas1).unwrap(), Status::Exists);
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"v2", 5));
    // A CAS value from get_many works the same way.
    let hits = c.get_many(&[b"k"]).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].item.cas, 2);
    assert_eq!(c.cas(b"k", b"v4", 0, 0, 2).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"v4", 0));
    assert!(c.delete(b"k").unwrap());
    assert_eq!(c.cas(b"k", b"v5", 0, 0, 3).unwrap(), Status::NotFound);
    assert_eq!(c.get(b"k").unwrap(), None);
}

#[test]
fn set_many_returns_statuses_in_input_order() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    let items: Vec<(Vec<u8>, Vec<u8>, u32)> = (0..50u32)
        .map(|i| {
            (
                format!("key{i}").into_bytes(),
                format!("value{i}").into_bytes(),
                i,
            )
        })
        .collect();
    assert_eq!(c.set_many(&items, 0).unwrap(), vec![Ok(Status::Stored); 50]);
    for (k, v, f) in &items {
        assert_eq!(vf(c.get(k).unwrap()), some(v, *f));
    }
    // set_many's TTL is applied to every item.
    let short = [(b"t1".as_slice(), b"x".as_slice(), 0u32), (b"t2", b"y", 0)];
    assert_eq!(
        c.set_many(&short, 100).unwrap(),
        vec![Ok(Status::Stored); 2]
    );
    for k in [b"t1", b"t2"] {
        let ttl = c.ttl(k).unwrap().unwrap();
        assert!((99..=100).contains(&ttl), "ttl {ttl}");
    }
}

// ----- retrieval -----

#[test]
fn get_and_touch_returns_the_item_and_sets_its_ttl() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.get_and_touch(b"k", 100).unwrap(), None);
    assert_eq!(c.set(b"k", b"v", 7, 0).unwrap(), Status::Stored);
    assert_eq!(c.ttl(b"k").unwrap(), Some(-1));
    assert_eq!(
        c.get_and_touch(b"k", 100).unwrap(),
        Some(Item {
            value: b"v".to_vec(),
            flags: 7,
            cas: 1
        })
    );
    let ttl = c.ttl(b"k").unwrap().unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    // And back to no expiry.
    assert_eq!(vf(c.get_and_touch(b"k", 0).unwrap()), some(b"v", 7));
    assert_eq!(c.ttl(b"k").unwrap(), Some(-1));
}

#[test]
fn get_many_returns_hits_only_with_keys_as_given() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    let utf8 = "schlüssel-€".as_bytes();
    let high = [0x80u8, 0xfe, 0xff, b'k'];
    assert_eq!(c.set(b"a", b"1", 1, 0).unwrap(), Status::Stored);
    assert_eq!(c.set(utf8, b"2", 2, 0).unwrap(), Status::Stored);
    assert_eq!(c.set(&high, b"3", 3, 0).unwrap(), Status::Stored);
    let keys: [&[u8]; 5] = [b"a", b"missing", utf8, &high, b"also-missing"];
    let mut hits = c.get_many(&keys).unwrap();
    hits.sort_by(|x, y| x.key.cmp(&y.key));
    assert_eq!(
        hits,
        vec![
            Hit {
                key: b"a".to_vec(),
                item: Item {
                    value: b"1".to_vec(),
                    flags: 1,
                    cas: 1
                }
            },
            Hit {
                key: utf8.to_vec(),
                item: Item {
                    value: b"2".to_vec(),
                    flags: 2,
                    cas: 2
                }
            },
            Hit {
                key: high.to_vec(),
                item: Item {
                    value: b"3".to_vec(),
                    flags: 3,
                    cas: 3
                }
            },
        ]
    );
    assert_eq!(c.get_many(&[b"x", b"y"]).unwrap(), vec![]);
    assert_eq!(c.get_many::<&[u8]>(&[]).unwrap(), vec![]);
}

#[test]
fn key_prefix_is_added_on_the_wire_and_stripped_from_get_many() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    c.set_options(Options {
        key_prefix: b"ns:".to_vec(),
        ..c.options()
    })
    .unwrap();
    let plain = client(&m);
    assert_eq!(c.set(b"k1", b"v1", 0, 0).unwrap(), Status::Stored);
    assert_eq!(
        c.set_many(&[(b"k2", b"v2", 2u32)], 0).unwrap(),
        vec![Ok(Status::Stored)]
    );
    // On the server the keys carry the prefix.
    assert_eq!(vf(plain.get(b"ns:k1").unwrap()), some(b"v1", 0));
    assert_eq!(vf(plain.get(b"ns:k2").unwrap()), some(b"v2", 2));
    assert_eq!(plain.get(b"k1").unwrap(), None);
    assert_eq!(
        plain.set(b"k3", b"unprefixed", 0, 0).unwrap(),
        Status::Stored
    );
    // Through the prefixed client they come back as given.
    let mut hits = c.get_many(&[b"k1", b"k2", b"k3"]).unwrap();
    hits.sort_by(|x, y| x.key.cmp(&y.key));
    let keys: Vec<(Vec<u8>, Vec<u8>)> = hits.into_iter().map(|h| (h.key, h.item.value)).collect();
    assert_eq!(
        keys,
        vec![
            (b"k1".to_vec(), b"v1".to_vec()),
            (b"k2".to_vec(), b"v2".to_vec())
        ]
    );
    assert_eq!(vf(c.get(b"k1").unwrap()), some(b"v1", 0));
    assert!(c.exists(b"k1").unwrap());
    assert_eq!(c.delete_many(&[b"k1", b"k3"]).unwrap(), vec![true, false]);
    assert_eq!(plain.get(b"ns:k1").unwrap(), None);
    assert_eq!(vf(plain.get(b"k3").unwrap()), some(b"unprefixed", 0));
}

#[test]
fn exists_and_ttl() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert!(!c.exists(b"k").unwrap());
    assert_eq!(c.ttl(b"k").unwrap(), None);
    assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
    assert!(c.exists(b"k").unwrap());
    assert_eq!(c.ttl(b"k").unwrap(), Some(-1));
    assert_eq!(c.set(b"k", b"v", 0, 300).unwrap(), Status::Stored);
    let ttl = c.ttl(b"k").unwrap().unwrap();
    assert!((299..=300).contains(&ttl), "ttl {ttl}");
}

// ----- other key commands -----

#[test]
fn delete_and_delete_many() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert!(!c.delete(b"k").unwrap());
    assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
    assert!(c.delete(b"k").unwrap());
    assert_eq!(c.get(b"k").unwrap(), None);
    assert!(!c.delete(b"k").unwrap());
    for k in [b"a", b"c", b"e"] {
        assert_eq!(c.set(k, b"v", 0, 0).unwrap(), Status::Stored);
    }
    assert_eq!(
        c.delete_many(&[b"a", b"b", b"c", b"d", b"e"]).unwrap(),
        vec![true, false, true, false, true]
    );
    assert_eq!(c.get_many(&[b"a", b"c", b"e"]).unwrap(), vec![]);
    assert_eq!(c.delete_many::<&[u8]>(&[]).unwrap(), Vec::<bool>::new());
}

#[test]
fn touch_sets_a_new_ttl() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert!(!c.touch(b"k", 100).unwrap());
    assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
    assert!(c.touch(b"k", 100).unwrap());
    let ttl = c.ttl(b"k").unwrap().unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert!(c.touch(b"k", 0).unwrap());
    assert_eq!(c.ttl(b"k").unwrap(), Some(-1));
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"v", 0));
}

#[test]
fn incr_and_decr() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.incr(b"n", 1).unwrap(), None);
    assert_eq!(c.decr(b"n", 1).unwrap(), None);
    assert_eq!(c.get(b"n").unwrap(), None);
    assert_eq!(c.set(b"n", b"10", 0, 0).unwrap(), Status::Stored);
    assert_eq!(c.incr(b"n", 5).unwrap(), Some(15));
    assert_eq!(c.decr(b"n", 6).unwrap(), Some(9));
    // memcached shrinks a number in place, padding it with spaces.
    assert_eq!(vf(c.get(b"n").unwrap()), some(b"9 ", 0));
    assert_eq!(c.decr(b"n", 100).unwrap(), Some(0));
    assert_eq!(c.decr(b"n", 1).unwrap(), Some(0));
    assert_eq!(c.incr(b"n", u64::MAX).unwrap(), Some(u64::MAX));
    assert_eq!(c.incr(b"n", 0).unwrap(), Some(u64::MAX));
    // Wraps at 2^64.
    assert_eq!(
        c.set(b"max", b"18446744073709551615", 0, 0).unwrap(),
        Status::Stored
    );
    assert_eq!(c.incr(b"max", 1).unwrap(), Some(0));
    assert_eq!(
        c.set(b"max", b"18446744073709551610", 0, 0).unwrap(),
        Status::Stored
    );
    assert_eq!(c.incr(b"max", 10).unwrap(), Some(4));
    // Not a number: the server's own message, naming the server.
    assert_eq!(c.set(b"text", b"hello", 0, 0).unwrap(), Status::Stored);
    let expected = (
        Kind::NotNumeric,
        format!(
            "{}: CLIENT_ERROR cannot increment or decrement non-numeric value",
            m.spec()
        ),
    );
    assert_eq!(fail(c.incr(b"text", 1)), expected);
    assert_eq!(fail(c.decr(b"text", 1)), expected);
    // The connection was dropped, the client goes on.
    assert_eq!(vf(c.get(b"text").unwrap()), some(b"hello", 0));
    assert_eq!(c.incr(b"max", 1).unwrap(), Some(5));
}

// ----- whole-server commands -----

#[test]
fn flush_all_now_and_with_a_delay() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.set(b"a", b"1", 0, 0).unwrap(), Status::Stored);
    assert_eq!(c.set(b"b", b"2", 0, 0).unwrap(), Status::Stored);
    assert_eq!(c.flush_all(None), Ok(()));
    assert_eq!(c.get_many(&[b"a", b"b"]).unwrap(), vec![]);
    // Items stored after a flush live.
    assert_eq!(c.set(b"c", b"3", 0, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"c").unwrap()), some(b"3", 0));
    // A delayed flush: memcached's clock has 1 s ticks and "flush_all 3"
    // takes effect at the second tick from now, 1 to 2 s away.
    assert_eq!(c.flush_all(Some(3)), Ok(()));
    assert_eq!(vf(c.get(b"c").unwrap()), some(b"3", 0));
    wait_gone(&c, b"c", Duration::from_millis(2600));
    assert_eq!(stat_u64(&c, "cmd_flush"), 2);
}

#[test]
fn stats_general_groups_and_unknown_group() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    let general = c.stats(None).unwrap();
    assert_eq!(general.len(), 1);
    let pid = general[0].iter().find(|(n, _)| n == "pid").unwrap();
    assert_eq!(pid.1, m.pid().unwrap().to_string());
    let version = general[0].iter().find(|(n, _)| n == "version").unwrap();
    assert_eq!(version.1, support::memcached_version());
    let port = m.spec().rsplit(':').next().unwrap().to_string();
    let s = settings(&c);
    assert_eq!(s["tcpport"], port);
    assert_eq!(s["maxbytes"], (64 * 1024 * 1024).to_string());
    assert_eq!(s["item_size_max"], "1048576");
    assert_eq!(s["num_threads"], "2");
    // An empty group is a list, not an error.
    assert_eq!(c.stats(Some("items")).unwrap(), vec![vec![]]);
    assert_eq!(
        fail(c.stats(Some("nonsense"))),
        (
            Kind::Client,
            format!("{}: ERROR: the server does not know this command", m.spec())
        )
    );
    assert_eq!(stat_u64(&c, "pid"), u64::from(m.pid().unwrap()));
}

#[test]
fn stats_group_cannot_smuggle_a_command() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.set(b"k", b"v", 0, 0).unwrap(), Status::Stored);
    let before = stat_u64(&c, "bytes_read");
    assert_eq!(
        fail(c.stats(Some("items\r\nflush_all"))),
        (
            Kind::Invalid,
            "stats group \"items\\x0d\\x0aflush_all\" contains control character 0x0d at byte 5"
                .to_string()
        )
    );
    assert_eq!(stat_u64(&c, "bytes_read") - before, STATS_REQUEST);
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"v", 0));
    assert_eq!(stat_u64(&c, "cmd_flush"), 0);
}

#[test]
fn version_is_the_servers() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.version().unwrap(), vec![support::memcached_version()]);
}

#[test]
fn verbosity_is_set_on_the_server() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(settings(&c)["verbosity"], "0");
    assert_eq!(c.verbosity(2), Ok(()));
    assert_eq!(settings(&c)["verbosity"], "2");
    assert_eq!(c.verbosity(0), Ok(()));
    assert_eq!(settings(&c)["verbosity"], "0");
}

// ----- values -----

#[test]
fn flags_round_trip() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    for flags in [0, 1, 16, 0x8000_0000, u32::MAX] {
        let value = format!("flags {flags}");
        assert_eq!(
            c.set(b"k", value.as_bytes(), flags, 0).unwrap(),
            Status::Stored
        );
        assert_eq!(vf(c.get(b"k").unwrap()), some(value.as_bytes(), flags));
        let hits = c.get_many(&[b"k"]).unwrap();
        assert_eq!(hits[0].item.flags, flags);
    }
}

#[test]
fn binary_values_round_trip() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    let mut value: Vec<u8> = (0..=255u8).collect();
    value.extend_from_slice(b"\r\nEND\r\n");
    value.extend_from_slice(b"VALUE k 0 3\r\nabc\r\nEND\r\n");
    value.extend((0..=255u8).rev());
    assert_eq!(c.set(b"bin", &value, 0, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"bin").unwrap()), some(&value, 0));
    // Replies that look like protocol lines are data, read by length.
    for tricky in [
        &b"END\r\n"[..],
        b"\r\n",
        b"STORED",
        b"\r\nEND",
        b"\n",
        b"\r",
    ] {
        assert_eq!(c.set(b"t", tricky, 0, 0).unwrap(), Status::Stored);
        assert_eq!(vf(c.get(b"t").unwrap()), some(tricky, 0));
    }
    // A value big enough to go by writev from the caller's memory, and to
    // arrive in several reads.
    let big: Vec<u8> = (0..600_000u32).map(|i| (i * 7 + i / 256) as u8).collect();
    assert_eq!(c.set(b"big", &big, 5, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"big").unwrap()), some(&big, 5));
    let mut hits = c.get_many(&[b"big", b"bin"]).unwrap();
    hits.sort_by(|x, y| x.key.cmp(&y.key));
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].item.value, big);
    assert_eq!(hits[1].item.value, value);
}

#[test]
fn empty_value() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.set(b"e", b"", 16, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"e").unwrap()), some(b"", 16));
    assert!(c.exists(b"e").unwrap());
    assert_eq!(c.append(b"e", b"now").unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"e").unwrap()), some(b"now", 16));
    assert_eq!(
        c.set_many(&[(b"e1", b"", 0u32)], 0).unwrap(),
        vec![Ok(Status::Stored)]
    );
    let hits = c.get_many(&[b"e1"]).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].item.value, b"");
}

/// The largest value memcached `-I 1m` stores under a one-byte key with
/// flags 0: item_size_max 1048576 - 48 (item header) - 8 (CAS) - 2 (key
/// and its NUL) - 2 (the data's "\r\n").
const ONE_BYTE_KEY_LIMIT: usize = 1_048_516;

fn value_size_limits(m: &Memcached) {
    let c = client(m);
    let too_large = (
        Kind::TooLarge,
        format!("{}: SERVER_ERROR object too large for cache", m.spec()),
    );
    let exact: Vec<u8> = (0..ONE_BYTE_KEY_LIMIT).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.set(b"k", &exact, 0, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"k").unwrap()), some(&exact, 0));
    // One byte more under a key of the same length.
    let over = vec![b'o'; ONE_BYTE_KEY_LIMIT + 1];
    assert_eq!(fail(c.set(b"x", &over, 0, 0)), too_large);
    assert_eq!(c.set(b"y", b"small", 0, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"y").unwrap()), some(b"small", 0));
    // 2 MiB: twice the limit.
    let huge = vec![b'h'; 2 << 20];
    assert_eq!(fail(c.set(b"x", &huge, 0, 0)), too_large);
    assert_eq!(fail(c.add(b"x", &huge, 0, 0)), too_large);
    // The same client goes on working, and the stored values are intact.
    assert_eq!(c.set(b"after", b"ok", 1, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"after").unwrap()), some(b"ok", 1));
    assert_eq!(c.get(b"x").unwrap(), None);
    assert_eq!(vf(c.get(b"k").unwrap()), some(&exact, 0));
    // In a pipeline: the oversized item gets the server's error, alone;
    // the items before and after it are stored (the server read and
    // dropped its data, so the stream stays in step), and no reply is left
    // over for the next operation.
    let items: [(&[u8], &[u8], u32); 3] =
        [(b"p1", b"one", 0), (b"p2", &huge, 0), (b"p3", b"three", 0)];
    let outcomes = c.set_many(&items, 0).unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], Ok(Status::Stored));
    assert_eq!(fail(outcomes[1].clone()), too_large);
    assert_eq!(outcomes[2], Ok(Status::Stored));
    assert_eq!(vf(c.get(b"p1").unwrap()), some(b"one", 0));
    assert_eq!(c.get(b"p2").unwrap(), None);
    assert_eq!(vf(c.get(b"p3").unwrap()), some(b"three", 0));
    assert_eq!(vf(c.get(b"after").unwrap()), some(b"ok", 1));
}

#[test]
fn value_size_limit_over_tcp() {
    value_size_limits(&Memcached::tcp_checked(&["-I", "1m"]));
}

#[test]
fn value_size_limit_over_unix_socket() {
    let m = Memcached::unix();
    // Memcached::unix has no extra arguments; 1 MiB is memcached's default.
    assert_eq!(settings(&client(&m))["item_size_max"], "1048576");
    value_size_limits(&m);
}

// ----- TTLs -----

#[test]
fn short_ttls_expire() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.set(b"one", b"1", 0, 1).unwrap(), Status::Stored);
    assert_eq!(c.set(b"two", b"2", 0, 2).unwrap(), Status::Stored);
    assert_eq!(c.set(b"forever", b"f", 0, 0).unwrap(), Status::Stored);
    // memcached's clock ticks once a second: a TTL of n seconds ends at the
    // n-th tick from now, so "two" lives at least one more second.
    assert_eq!(vf(c.get(b"two").unwrap()), some(b"2", 0));
    let ttl = c.ttl(b"two").unwrap().unwrap();
    assert!((1..=2).contains(&ttl), "ttl {ttl}");
    wait_gone(&c, b"one", Duration::from_millis(1600));
    assert_eq!(c.ttl(b"one").unwrap(), None);
    assert!(!c.exists(b"one").unwrap());
    let gone = wait_gone(&c, b"two", Duration::from_millis(2600));
    assert!(gone < Duration::from_millis(2600));
    assert_eq!(vf(c.get(b"forever").unwrap()), some(b"f", 0));
    assert_eq!(c.ttl(b"forever").unwrap(), Some(-1));
}

#[test]
fn ttl_over_30_days_is_sent_as_a_unix_time() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    let forty_days = 40 * 24 * 60 * 60;
    assert_eq!(c.set(b"k", b"v", 0, forty_days).unwrap(), Status::Stored);
    // Sent as a relative 3456000, memcached would read a date in 1970 and
    // the item would be dead on arrival.
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"v", 0));
    let ttl = c.ttl(b"k").unwrap().unwrap();
    let expected = i64::from(forty_days);
    assert!((expected - 3..=expected + 2).contains(&ttl), "ttl {ttl}");
    // touch and get_and_touch convert the same way.
    assert!(c.touch(b"k", forty_days + 86400).unwrap());
    let ttl = c.ttl(b"k").unwrap().unwrap();
    assert!(
        (expected + 86400 - 3..=expected + 86400 + 2).contains(&ttl),
        "ttl {ttl}"
    );
    assert_eq!(
        vf(c.get_and_touch(b"k", forty_days).unwrap()),
        some(b"v", 0)
    );
    let ttl = c.ttl(b"k").unwrap().unwrap();
    assert!((expected - 3..=expected + 2).contains(&ttl), "ttl {ttl}");
    // Exactly 30 days is still relative.
    assert_eq!(
        c.set(b"k30", b"v", 0, MAX_RELATIVE_TTL).unwrap(),
        Status::Stored
    );
    let ttl = c.ttl(b"k30").unwrap().unwrap();
    let expected = i64::from(MAX_RELATIVE_TTL);
    assert!((expected - 3..=expected).contains(&ttl), "ttl {ttl}");
}

#[test]
fn exptimes_are_sent_as_memcached_reads_them() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    let at = c.at(None).exptimes();
    // A Unix time, not a lifetime counted from the server's clock.
    let now = u32::try_from(stat_u64(&c, "time")).unwrap();
    assert_eq!(at.set(b"abs", b"v", 0, now + 3600).unwrap(), Status::Stored);
    let ttl = c.ttl(b"abs").unwrap().unwrap();
    assert!((3598..=3600).contains(&ttl), "ttl {ttl}");
    assert!(at.touch(b"abs", now + 7200).unwrap());
    let ttl = c.ttl(b"abs").unwrap().unwrap();
    assert!((7198..=7200).contains(&ttl), "ttl {ttl}");
    assert_eq!(at.set_many(&[(b"m", b"v", 0)], EXPIRED).unwrap().len(), 1);
    assert_eq!(at.set(b"gone", b"v", 0, EXPIRED).unwrap(), Status::Stored);
    assert_eq!(c.get_many(&[&b"m"[..], b"gone"]).unwrap(), vec![]);
    let e = at.set(b"k", b"v", 0, 1 << 31).unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            Kind::Invalid,
            "an exptime of 2147483648 is after 2038-01-19 03:14:07 UTC, the last time memcached can keep (memcached reads at most 2147483647)"
        )
    );
}

// ----- keys -----

fn bad_key_message(shown: &str, what: &str, at: usize) -> String {
    format!(
        "key \"{shown}\" contains {what} at byte {at}: keys may not contain whitespace or control characters"
    )
}

/// Every bad key with the exact message the client gives for it.
fn bad_keys() -> Vec<(Vec<u8>, String)> {
    vec![
        (b"".to_vec(), "key is empty".to_string()),
        (
            vec![b'k'; 251],
            format!(
                "key is 251 bytes long, the limit is 250: \"{}...\"",
                "k".repeat(40)
            ),
        ),
        (b"a b".to_vec(), bad_key_message("a b", "a space", 1)),
        (
            b"x\r\nflush_all".to_vec(),
            bad_key_message("x\\x0d\\x0aflush_all", "control character 0x0d", 1),
        ),
        (
            b"tab\there".to_vec(),
            bad_key_message("tab\\x09here", "control character 0x09", 3),
        ),
        (
            b"nul\0".to_vec(),
            bad_key_message("nul\\x00", "control character 0x00", 3),
        ),
        (
            b"del\x7f".to_vec(),
            bad_key_message("del\\x7f", "control character 0x7f", 3),
        ),
        (
            b"lf\n".to_vec(),
            bad_key_message("lf\\x0a", "control character 0x0a", 2),
        ),
    ]
}

/// Runs every single-key operation with `key`; returns each one's error.
fn single_key_errors(c: &Client, key: &[u8]) -> Vec<(&'static str, (Kind, String))> {
    vec![
        ("set", fail(c.set(key, b"v", 0, 0))),
        ("add", fail(c.add(key, b"v", 0, 0))),
        ("replace", fail(c.replace(key, b"v", 0, 0))),
        ("append", fail(c.append(key, b"v"))),
        ("prepend", fail(c.prepend(key, b"v"))),
        ("append_or_add", fail(c.append_or_add(key, b"v", 0, 0))),
        ("cas", fail(c.cas(key, b"v", 0, 0, 1))),
        ("get", fail(c.get(key))),
        ("get_and_touch", fail(c.get_and_touch(key, 10))),
        ("exists", fail(c.exists(key))),
        ("ttl", fail(c.ttl(key))),
        ("delete", fail(c.delete(key))),
        ("touch", fail(c.touch(key, 10))),
        ("incr", fail(c.incr(key, 1))),
        ("decr", fail(c.decr(key, 1))),
    ]
}

#[test]
fn bad_keys_are_refused_before_anything_is_sent() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.set(b"x", b"keep", 0, 0).unwrap(), Status::Stored);
    assert_eq!(c.set(b"a", b"keep-a", 0, 0).unwrap(), Status::Stored);
    let before = counters(&c);
    for (key, message) in bad_keys() {
        for (op, error) in single_key_errors(&c, &key) {
            assert_eq!(error, (Kind::BadKey, message.clone()), "{op}");
        }
    }
    // The server read nothing but the second stats request, on the same
    // connection, and the keys a bad key starts with are untouched.
    let after = counters(&c);
    assert_eq!(after["bytes_read"] - before["bytes_read"], STATS_REQUEST);
    assert_eq!(after["total_connections"], before["total_connections"]);
    assert_eq!(vf(c.get(b"x").unwrap()), some(b"keep", 0));
    assert_eq!(vf(c.get(b"a").unwrap()), some(b"keep-a", 0));
    assert_eq!(stat_u64(&c, "cmd_set"), 2);
    assert_eq!(stat_u64(&c, "cmd_flush"), 0);
    // The longest key is fine.
    let longest = vec![b'k'; 250];
    assert_eq!(c.set(&longest, b"250", 0, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(&longest).unwrap()), some(b"250", 0));
}

#[test]
fn a_bad_key_refuses_the_whole_multi_key_call() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    assert_eq!(c.set(b"good", b"kept", 0, 0).unwrap(), Status::Stored);
    let bytes_before = stat_u64(&c, "bytes_read");
    for (key, message) in bad_keys() {
        let expected = (Kind::BadKey, message);
        let keys: [&[u8]; 3] = [b"good", &key, b"other"];
        assert_eq!(fail(c.get_many(&keys)), expected);
        assert_eq!(fail(c.delete_many(&keys)), expected);
        let items: [(&[u8], &[u8], u32); 3] = [
            (b"good", b"overwritten", 0),
            (&key, b"v", 0),
            (b"other", b"v", 0),
        ];
        assert_eq!(fail(c.set_many(&items, 0)), expected);
    }
    assert_eq!(stat_u64(&c, "bytes_read") - bytes_before, STATS_REQUEST);
    assert_eq!(vf(c.get(b"good").unwrap()), some(b"kept", 0));
    assert_eq!(c.get(b"other").unwrap(), None);
    assert_eq!(stat_u64(&c, "cmd_set"), 1);
}

#[test]
fn key_prefix_counts_towards_the_key_limit() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    c.set_options(Options {
        key_prefix: b"ns:".to_vec(),
        ..c.options()
    })
    .unwrap();
    let fits = vec![b'k'; 247];
    assert_eq!(c.set(&fits, b"v", 0, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(&fits).unwrap()), some(b"v", 0));
    let bytes_before = stat_u64(&c, "bytes_read");
    let long = vec![b'k'; 248];
    let expected = (
        Kind::BadKey,
        format!(
            "key is 251 bytes long, the limit is 250: \"ns:{}...\"",
            "k".repeat(37)
        ),
    );
    assert_eq!(fail(c.set(&long, b"v", 0, 0)), expected);
    assert_eq!(fail(c.get(&long)), expected);
    assert_eq!(fail(c.get_many(&[&long])), expected);
    // The prefix alone is not a key.
    assert_eq!(fail(c.get(b"")), (Kind::BadKey, "key is empty".to_string()));
    assert_eq!(stat_u64(&c, "bytes_read") - bytes_before, STATS_REQUEST);
}

#[test]
fn set_options_checks_its_arguments() {
    let m = Memcached::tcp_checked(&[]);
    let c = client(&m);
    let defaults = c.options();
    assert_eq!(
        fail(c.set_options(Options {
            io_timeout: Duration::ZERO,
            ..defaults.clone()
        })),
        (Kind::Invalid, "timeouts must be at least 1 ms".to_string())
    );
    assert_eq!(
        fail(c.set_options(Options {
            key_prefix: b"a b".to_vec(),
            ..defaults.clone()
        })),
        (
            Kind::Invalid,
            format!("bad key prefix: {}", bad_key_message("a b", "a space", 1))
        )
    );
    assert_eq!(c.options(), defaults);
    assert_eq!(defaults.io_timeout, Duration::from_secs(3));
    assert_eq!(defaults.connect_timeout, Duration::from_secs(2));
    assert_eq!(
        fail(Client::new::<&str>(&[])),
        (Kind::Invalid, "no server given".to_string())
    );
}

// ----- Unix sockets -----

#[test]
fn unix_socket_basic_operations() {
    let m = Memcached::unix();
    let c = client(&m);
    assert_eq!(c.servers().next().unwrap().name, m.spec());
    assert_eq!(c.set(b"k", b"v", 16, 0).unwrap(), Status::Stored);
    assert_eq!(vf(c.get(b"k").unwrap()), some(b"v", 16));
    assert_eq!(c.add(b"k", b"w", 0, 0).unwrap(), Status::NotStored);
    assert_eq!(c.append(b"k", b"+").unwrap(), Status::Stored);
    let item = c.get(b"k").unwrap().unwrap();
    assert_eq!(item.value, b"v+");
    assert_eq!(c.cas(b"k", b"new", 0, 0, item.cas).unwrap(), Status::Stored);
    assert_eq!(
        c.cas(b"k", b"newer", 0, 0, item.cas).unwrap(),
        Status::Exists
    );
    assert_eq!(
        c.set_many(&[(b"a", b"1", 0u32), (b"b", b"2", 0)], 0)
            .unwrap(),
        vec![Ok(Status::Stored), Ok(Status::Stored)]
    );
    let mut hits = c.get_many(&[b"a", b"b", b"c"]).unwrap();
    hits.sort_by(|x, y| x.key.cmp(&y.key));
    let got: Vec<(Vec<u8>, Vec<u8>)> = hits.into_iter().map(|h| (h.key, h.item.value)).collect();
    assert_eq!(
        got,
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec())
        ]
    );
    assert_eq!(c.set(b"n", b"41", 0, 0).unwrap(), Status::Stored);
    assert_eq!(c.incr(b"n", 1).unwrap(), Some(42));
    assert_eq!(c.decr(b"n", 2).unwrap(), Some(40));
    assert_eq!(
        fail(c.incr(b"k", 1)),
        (
            Kind::NotNumeric,
            format!(
                "{}: CLIENT_ERROR cannot increment or decrement non-numeric value",
                m.spec()
            )
        )
    );
    assert!(c.touch(b"k", 100).unwrap());
    let ttl = c.ttl(b"k").unwrap().unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert!(c.exists(b"k").unwrap());
    assert_eq!(
        c.delete_many(&[b"a".as_slice(), b"zz"]).unwrap(),
        vec![true, false]
    );
    assert!(c.delete(b"k").unwrap());
    assert_eq!(c.get(b"k").unwrap(), None);
    assert_eq!(c.version().unwrap(), vec![support::memcached_version()]);
    assert_eq!(stat_u64(&c, "pid"), u64::from(m.pid().unwrap()));
    assert_eq!(settings(&c)["domain_socket"], m.spec());
    assert_eq!(c.flush_all(None), Ok(()));
    assert_eq!(c.get(b"b").unwrap(), None);
}

// ----- threads -----

#[test]
fn threads_share_one_client() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 2000;
    let m = Memcached::tcp_checked(&[]);
    let c = Arc::new(client(&m));
    let connections_before = stat_u64(&c, "total_connections");
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let c = Arc::clone(&c);
            thread::spawn(move || {
                for i in 0..ROUNDS {
                    let key = format!("t{t}-k{}", i % 50);
                    // Sizes vary so replies of other threads could not be
                    // mistaken for ours by length either.
                    let value = format!("thread {t} round {i} {}", "x".repeat((i * 7 + t) % 300));
                    let flags = (t * 100_000 + i) as u32;
                    assert_eq!(
                        c.set(key.as_bytes(), value.as_bytes(), flags, 0).unwrap(),
                        Status::Stored
                    );
                    let item = c.get(key.as_bytes()).unwrap().unwrap();
                    assert_eq!(item.value, value.as_bytes(), "thread {t} round {i}");
                    assert_eq!(item.flags, flags);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(stat_u64(&c, "cmd_set"), (THREADS * ROUNDS) as u64);
    assert_eq!(stat_u64(&c, "get_hits"), (THREADS * ROUNDS) as u64);
    assert_eq!(stat_u64(&c, "curr_items"), (THREADS * 50) as u64);
    // Connections are pooled: at most one per thread was opened.
    let opened = stat_u64(&c, "total_connections") - connections_before;
    assert!(
        (1..=THREADS as u64).contains(&opened),
        "{opened} connections"
    );
}

/// Multi-key calls with large values, over a Unix socket and TCP. memcached
/// reads a 16 KB value at a time and answers each set on its own, and on a
/// Unix socket every small reply costs a whole socket buffer: a few hundred
/// unread "STORED" lines stop memcached reading, which once stopped this
/// client's write of the pipeline until its timeout (a 2,000-item set_many
/// failed with "server did not take the request within 3000 ms" and marked
/// the server dead). Replies are now read while the pipeline is written.
#[test]
fn pipelines_of_large_values_do_not_deadlock() {
    const N: usize = 2_000;
    for m in [Memcached::unix(), Memcached::tcp()] {
        let c = client(&m);
        let keys: Vec<String> = (0..N).map(|i| format!("large-value-{i:05}")).collect();
        let values: Vec<Vec<u8>> = (0..N)
            .map(|i| vec![b'a' + (i % 26) as u8; 16_000])
            .collect();
        let items: Vec<(&[u8], &[u8], u32)> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| (k.as_bytes(), &v[..], u32::from(v[0])))
            .collect();
        assert_eq!(
            c.set_many(&items, 0).unwrap(),
            vec![Ok(Status::Stored); N],
            "{}",
            m.spec()
        );
        let hits = c.get_many(&keys).unwrap();
        assert_eq!(hits.len(), N, "{}", m.spec());
        for (hit, (key, value)) in hits.iter().zip(keys.iter().zip(&values)) {
            assert_eq!(hit.key, key.as_bytes());
            assert_eq!(hit.item.value, *value);
            assert_eq!(hit.item.flags, u32::from(value[0]));
        }
        assert_eq!(c.delete_many(&keys).unwrap(), vec![true; N], "{}", m.spec());
        assert_eq!(stat_u64(&c, "curr_items"), 0, "{}", m.spec());
    }
}

/// A pipeline whose replies outgrow the socket buffers: memcached stops
/// reading while it cannot write its replies, so a client that writes a
/// whole huge pipeline before reading would wait for ever (here: until its
/// timeout). Over a Unix socket 16,000 deletes were enough.
#[test]
fn big_pipelines_do_not_deadlock() {
    const N: usize = 40_000;
    let m = Memcached::unix();
    let c = client(&m);
    c.set_options(Options {
        io_timeout: Duration::from_millis(1000),
        ..c.options()
    })
    .unwrap();
    let keys: Vec<String> = (0..N).map(|i| format!("key{i}")).collect();
    let items: Vec<(&[u8], &[u8], u32)> = keys
        .iter()
        .map(|k| (k.as_bytes(), &k.as_bytes()[3..], 0))
        .collect();
    assert_eq!(c.set_many(&items, 0).unwrap(), vec![Ok(Status::Stored); N]);
    assert_eq!(stat_u64(&c, "curr_items"), N as u64);
    let hits = c.get_many(&keys).unwrap();
    assert_eq!(hits.len(), N);
    assert!(hits.iter().all(|h| h.key[3..] == h.item.value[..]));
    let mut doomed = keys.clone();
    doomed.extend((0..N / 4).map(|i| format!("missing{i}")));
    let mut expected = vec![true; N];
    expected.extend(vec![false; N / 4]);
    assert_eq!(c.delete_many(&doomed).unwrap(), expected);
    assert_eq!(stat_u64(&c, "curr_items"), 0);
}
