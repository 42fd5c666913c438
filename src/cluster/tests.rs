//! Unit tests of the hashes, the placement and the dead marks.

use std::time::Duration;

use super::hash::crc32;
use super::node::show_wait;
use super::*;
use crate::error::{Error, Kind};

fn placement(distribution: Distribution, servers: &[(&str, u32)]) -> Placement {
    let named: Vec<(String, u32)> = servers.iter().map(|(n, w)| (n.to_string(), *w)).collect();
    Placement::new(distribution, &named)
}

#[test]
fn crc32_matches_zlib() {
    // zlib.crc32 values, checked with Python's binascii.crc32.
    assert_eq!(crc32(b""), 0);
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(crc32(b"foo"), 0x8c73_6521);
}

#[test]
fn buckets_match_python_memcached() {
    // python-memcached: serverhash = ((crc32(key) & 0xffffffff) >> 16) & 0x7fff
    assert_eq!(modula_hash(b"foo"), 0x0c73);
    assert_eq!(bucket(b"foo", 3), 0x0c73 % 3);
    assert_eq!(bucket(b"anything", 1), 0);
}

#[test]
fn ketama_hash_is_md5_le() {
    // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8
    assert_eq!(ketama_hash(b"foo"), 0xdb18_bdac);
    // md5("") = d41d8cd98f00b204e9800998ecf8427e
    assert_eq!(ketama_hash(b""), 0xd98c_1dd4);
}

#[test]
fn ketama_point_counts_follow_libmemcacheds_float_rule() {
    let count = |weights: &[u32]| {
        let names: Vec<(String, u32)> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("10.0.0.{i}"), *w))
            .collect();
        let p = Placement::new(Distribution::Ketama, &names);
        (0..weights.len())
            .map(|i| p.points().iter().filter(|(_, s)| *s as usize == i).count())
            .collect::<Vec<_>>()
    };
    assert_eq!(count(&[1, 1, 1]), vec![160, 160, 160]);
    assert_eq!(count(&[1, 1]), vec![160, 160]);
    // 1/6 * 160 / 4 * 3 = 20 -> 80; 2/6 -> 160; 3/6 -> 240.
    assert_eq!(count(&[1, 2, 3]), vec![80, 160, 240]);
    // 1/7 * 40 * 3 = 17.14 -> 68; 2/7 -> 34.28 -> 136; 4/7 -> 68.57 -> 272.
    assert_eq!(count(&[1, 2, 4]), vec![68, 136, 272]);
    assert_eq!(count(&[1, 1, 1, 1]), vec![160, 160, 160, 160]);
}

#[test]
fn ketama_names_follow_libmemcached() {
    let tcp = crate::server::parse("127.0.0.1:11211*3").unwrap();
    assert_eq!(ketama_name(&tcp), "127.0.0.1");
    let tcp = crate::server::parse("localhost:22122").unwrap();
    assert_eq!(ketama_name(&tcp), "localhost:22122");
    let v6 = crate::server::parse("[::1]:5").unwrap();
    assert_eq!(ketama_name(&v6), "::1:5");
    let unix = crate::server::parse("/tmp/mc.sock").unwrap();
    assert_eq!(ketama_name(&unix), "/tmp/mc.sock:0");
}

#[test]
fn ketama_lookup_takes_the_first_point_at_or_after_the_hash() {
    let p = placement(Distribution::Ketama, &[("a", 1), ("b", 1)]);
    let points = p.points().to_vec();
    assert_eq!(points.len(), 320);
    assert!(points.windows(2).all(|w| w[0] <= w[1]));
    for &(point, server) in &points[..20] {
        assert_eq!(p.home(&Hash::Ketama(point)), server as usize);
    }
    let (first, owner) = points[0];
    assert_eq!(
        p.home(&Hash::Ketama(first.saturating_sub(1))),
        owner as usize
    );
    // Past the last point: wraps to the first.
    let (last, _) = points[points.len() - 1];
    if last < u32::MAX {
        assert_eq!(p.home(&Hash::Ketama(last + 1)), owner as usize);
    }
    assert_eq!(p.home(&Hash::Ketama(0)), owner as usize);
}

#[test]
fn modula_buckets_repeat_each_server_weight_times() {
    let p = placement(Distribution::Modula, &[("a", 1), ("b", 3), ("c", 2)]);
    // Buckets: a b b b c c.
    let want = [0, 1, 1, 1, 2, 2];
    for h in 0..60u32 {
        assert_eq!(p.home(&Hash::Modula(h)), want[h as usize % 6], "{h}");
    }
}

#[test]
fn modula_rehash_is_python_memcacheds() {
    // The servers python-memcached 1.62's Client._get_server tries, in
    // order, when every server is dead (recorded from its connect()
    // calls), for a key or a (hashvalue, key) tuple and the weights.
    type Case = (
        &'static [u32],
        Option<&'static [u8]>,
        &'static [u8],
        [usize; 10],
    );
    let cases: [Case; 5] = [
        (&[1, 1, 1], None, b"foo", [1, 1, 0, 0, 0, 0, 2, 2, 2, 1]),
        (
            &[1, 1, 1],
            Some(b"42"),
            b"foo",
            [0, 2, 1, 0, 2, 1, 1, 1, 2, 0],
        ),
        (
            &[1, 3, 2],
            Some(b"-7"),
            b"foo",
            [2, 1, 1, 1, 1, 1, 2, 2, 1, 1],
        ),
        (
            &[1, 3, 2],
            None,
            b"some-key",
            [1, 1, 1, 0, 1, 0, 1, 1, 2, 1],
        ),
        (
            &[2, 1, 1, 5],
            Some(b"123456789012345678901234567890"),
            b"k",
            [0, 0, 3, 1, 3, 3, 3, 3, 2, 3],
        ),
    ];
    for (weights, place, key, want) in cases {
        let names: Vec<(String, u32)> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("s{i}"), *w))
            .collect();
        let p = Placement::new(Distribution::Modula, &names);
        let h = match place {
            Some(place) => p.hash_place(place),
            None => p.hash_key(key),
        };
        assert_eq!(p.candidates(&h), want, "{weights:?} {place:?} {key:?}");
        assert_eq!(p.home(&h), want[0]);
    }
}

#[test]
fn placement_values() {
    let m = placement(Distribution::Modula, &[("a", 1), ("b", 1), ("c", 1)]);
    assert_eq!(
        m.hash_place(b"42"),
        Hash::Given(PyInt::parse(b"42").unwrap())
    );
    assert_eq!(m.home(&m.hash_place(b"42")), 0);
    assert_eq!(m.home(&m.hash_place(b"43")), 1);
    assert_eq!(m.home(&m.hash_place(b"-1")), 2, "Python: -1 % 3 == 2");
    assert_eq!(m.home(&m.hash_place(b"0005")), 2);
    // Python: 123456789012345678901234567890123456789012 % 3 == 0
    // (more digits than a u128 holds).
    assert_eq!(
        m.home(&m.hash_place(b"123456789012345678901234567890123456789012")),
        0
    );
    assert_eq!(
        m.home(&m.hash_place(b"123456789012345678901234567890123456789013")),
        1
    );
    // Not an integer: hashed like a key.
    assert_eq!(m.hash_place(b"user42"), m.hash_key(b"user42"));
    assert_eq!(m.hash_place(b"+5"), m.hash_key(b"+5"));
    assert_eq!(m.hash_place(b"-"), m.hash_key(b"-"));
    let k = placement(Distribution::Ketama, &[("a", 1), ("b", 1)]);
    assert_eq!(k.hash_place(b"42"), Hash::Ketama(ketama_hash(b"42")));
    // Python's str() of the given integer feeds the rehash.
    let c = m.candidates(&m.hash_place(b"-007"));
    assert_eq!(c[0], 2);
    assert_eq!(c[1], (modula_hash(b"-70") % 3) as usize);
    assert_eq!(c.len(), MODULA_TRIES);
}

#[test]
fn single_server_needs_no_hash() {
    for d in [Distribution::Ketama, Distribution::Modula] {
        let p = placement(d, &[("only", 5)]);
        assert_eq!(p.home(&p.hash_key(b"anything")), 0);
        assert_eq!(p.home(&p.hash_place(b"77")), 0);
        assert_eq!(p.candidates(&p.hash_key(b"x")), vec![0]);
    }
}

#[test]
fn ketama_candidates_walk_the_circle() {
    let p = placement(
        Distribution::Ketama,
        &[("a", 1), ("b", 1), ("c", 1), ("d", 1)],
    );
    for key in [&b"k1"[..], b"k2", b"k3", b"another"] {
        let h = p.hash_key(key);
        let c = p.candidates(&h);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], p.home(&h));
        let mut sorted = c.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3]);
        // The second is the owner of the next point not the home's.
        let points = p.points();
        let start = points.partition_point(|&(pt, _)| pt < ketama_hash(key)) % points.len();
        let next = (0..points.len())
            .map(|k| points[(start + k) % points.len()].1 as usize)
            .find(|&s| s != c[0])
            .unwrap();
        assert_eq!(c[1], next);
    }
}

#[test]
fn route_fails_over_only_when_asked() {
    let p = placement(Distribution::Ketama, &[("a", 1), ("b", 1), ("c", 1)]);
    let h = p.hash_key(b"some key");
    let home = p.home(&h);
    let dead = |n: usize| {
        if n == home {
            Err(Error::new(Kind::Io, format!("{n} is dead")))
        } else {
            Ok(())
        }
    };
    assert_eq!(
        p.route(&h, false, dead).unwrap_err().message(),
        format!("{home} is dead")
    );
    assert_eq!(p.route(&h, true, dead), Ok(p.candidates(&h)[1]));
    let all_dead = |n: usize| Err(Error::new(Kind::Io, format!("{n} is dead")));
    assert_eq!(
        p.route(&h, true, all_dead).unwrap_err().message(),
        format!("{home} is dead")
    );
    assert_eq!(p.route(&h, true, |_| Ok(())), Ok(home));
}

#[test]
fn dead_marks_fail_fast_then_admit_one_probe() {
    let node = Node::new(crate::server::parse("127.0.0.1:1").unwrap());
    let interval = Duration::from_millis(200);
    assert_eq!(node.admit(interval), Ok(()));
    assert_eq!(node.dead_for(), None);
    node.mark_dead(&Error::new(Kind::Io, "cannot connect: refused"), interval);
    let e = node.admit(interval).unwrap_err();
    assert_eq!(e.kind(), Kind::Io);
    assert!(
        e.message()
            .starts_with("127.0.0.1:1: marked dead after \"cannot connect: refused\", retried in "),
        "{}",
        e.message()
    );
    assert!(e.message().ends_with(" ms"), "{}", e.message());
    std::thread::sleep(interval + Duration::from_millis(20));
    // One caller gets to probe; the next still fails fast.
    assert_eq!(node.admit(interval), Ok(()));
    assert!(node.admit(interval).is_err());
    node.mark_alive();
    assert_eq!(node.admit(interval), Ok(()));
    assert_eq!(node.dead_for(), None);
    // A zero interval marks nothing.
    node.mark_dead(&Error::new(Kind::Io, "x"), Duration::ZERO);
    assert_eq!(node.dead_for(), None);
}

#[test]
fn waits_are_shown_in_whole_units_rounded_up() {
    assert_eq!(show_wait(Duration::from_millis(29_001)), "30 s");
    assert_eq!(show_wait(Duration::from_secs(29)), "29 s");
    assert_eq!(show_wait(Duration::from_millis(1000)), "1 s");
    assert_eq!(show_wait(Duration::from_millis(999)), "999 ms");
    assert_eq!(show_wait(Duration::ZERO), "1 ms");
}

#[test]
fn idle_connections_are_reused_and_all_closed() {
    use crate::net::{Dial, TlsSetup};
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::mpsc;

    // A listener that counts connections and tells when one is closed.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (closed_tx, closed) = mpsc::channel();
    let (accepted_tx, accepted) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            accepted_tx.send(()).unwrap();
            let closed_tx = closed_tx.clone();
            std::thread::spawn(move || {
                let _ = stream.read(&mut [0u8; 1]);
                closed_tx.send(()).unwrap();
            });
        }
    });
    let node = Node::new(crate::server::parse(&format!("127.0.0.1:{port}")).unwrap());
    let tls = TlsSetup::default();
    let dial = Dial {
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(2),
        auth: None,
        tls: &tls,
    };
    let wait = Duration::from_secs(2);
    // Two at once: two new connections.
    let (a, a_reused) = node.checkout(&dial).unwrap();
    let (b, b_reused) = node.checkout(&dial).unwrap();
    assert_eq!((a_reused, b_reused), (false, false));
    accepted.recv_timeout(wait).unwrap();
    accepted.recv_timeout(wait).unwrap();
    // Both returned (the first to the atomic slot, the second, finding it
    // taken, to the list): both taken again, the slot's first, and no
    // third is opened.
    let (a_at, b_at) = (&*a as *const _, &*b as *const _);
    node.checkin(a);
    node.checkin(b);
    let (c, c_reused) = node.checkout(&dial).unwrap();
    let (d, d_reused) = node.checkout(&dial).unwrap();
    assert_eq!((c_reused, d_reused), (true, true));
    assert_eq!((&*c as *const _, &*d as *const _), (a_at, b_at));
    assert!(accepted.recv_timeout(Duration::from_millis(100)).is_err());
    // close_all closes both, wherever they wait.
    node.checkin(c);
    node.checkin(d);
    node.close_all();
    closed.recv_timeout(wait).unwrap();
    closed.recv_timeout(wait).unwrap();
    let (_, reused) = node.checkout(&dial).unwrap();
    assert!(!reused);
}
