//! Binary keys (`Options::binary_keys`): keys of any bytes go base64 over
//! the meta commands of a real memcached, classic keys as they are; a raw
//! socket shows what the server holds. A server without the meta commands
//! (the one fault a real memcached 1.6 cannot produce: a fake server that
//! answers `ERROR` as memcached 1.4 does) gets a clear error and never a
//! data block it would read as commands.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use memcache::{Client, FetchOptions, Kind, Status};
use support::{Memcached, ScriptedServer, Step};

fn binary_client(specs: &[String]) -> Client {
    let c = Client::new(specs).unwrap();
    c.update_options(|o| {
        o.binary_keys = true;
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
    c
}

/// The value a raw meta get of `key` (base64, `b` flag) finds on `spec`.
fn raw_meta_get(spec: &str, key: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    raw(spec, format!("mg {b64} b v\r\n").as_bytes())
}

/// The value a raw request (`get k` or `mg ... v`) finds.
fn raw(spec: &str, request: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(spec).unwrap();
    s.write_all(request).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let size = if let Some(rest) = line.strip_prefix("VA ") {
        rest.split_whitespace()
            .next()
            .unwrap()
            .parse::<usize>()
            .unwrap()
    } else if let Some(rest) = line.strip_prefix("VALUE ") {
        rest.split_whitespace()
            .nth(2)
            .unwrap()
            .parse::<usize>()
            .unwrap()
    } else {
        assert!(line == "EN\r\n" || line == "END\r\n", "{line:?}");
        return None;
    };
    let mut data = vec![0; size + 2];
    r.read_exact(&mut data).unwrap();
    data.truncate(size);
    Some(data)
}

/// Keys no classic command can carry.
fn odd_keys() -> Vec<Vec<u8>> {
    vec![
        b"a key with spaces".to_vec(),
        b"line\r\nbreak".to_vec(),
        b"\0".to_vec(),
        b"tab\there".to_vec(),
        "emoji \u{1f600} key".as_bytes().to_vec(),
        (0u8..=185).collect(),
        vec![0xff; 186],
    ]
}

#[test]
fn every_key_operation_round_trips_binary_keys() {
    let m = Memcached::tcp();
    let c = binary_client(&[m.spec()]);
    for key in odd_keys() {
        let shown = format!("{key:?}");
        assert_eq!(c.set(&key, b"v1", 3, 0).unwrap(), Status::Stored, "{shown}");
        assert_eq!(
            raw_meta_get(&m.spec(), &key),
            Some(b"v1".to_vec()),
            "{shown}"
        );
        let item = c.get(&key).unwrap().unwrap();
        assert_eq!((&item.value[..], item.flags), (&b"v1"[..], 3), "{shown}");
        assert_eq!(c.add(&key, b"x", 0, 0).unwrap(), Status::NotStored);
        assert_eq!(c.replace(&key, b"v2", 5, 0).unwrap(), Status::Stored);
        assert_eq!(c.append(&key, b">").unwrap(), Status::Stored);
        assert_eq!(c.prepend(&key, b"<").unwrap(), Status::Stored);
        let item = c.get(&key).unwrap().unwrap();
        assert_eq!((&item.value[..], item.flags), (&b"<v2>"[..], 5));
        assert_eq!(
            c.cas(&key, b"c", 0, 0, item.cas + 1).unwrap(),
            Status::Exists
        );
        assert_eq!(c.cas(&key, b"c", 0, 0, item.cas).unwrap(), Status::Stored);
        assert!(c.exists(&key).unwrap());
        assert_eq!(c.flags(&key).unwrap(), Some(0));
        assert_eq!(c.ttl(&key).unwrap(), Some(-1));
        assert!(c.touch(&key, 100).unwrap());
        assert_eq!(c.ttl(&key).unwrap(), Some(100));
        let touched = c.get_and_touch(&key, 200).unwrap().unwrap();
        assert_eq!(touched.value, b"c");
        assert_eq!(c.ttl(&key).unwrap(), Some(200));
        assert_eq!(c.set(&key, b"41", 0, 0).unwrap(), Status::Stored);
        assert_eq!(c.incr(&key, 1).unwrap(), Some(42));
        assert_eq!(c.decr(&key, 50).unwrap(), Some(0));
        assert!(c.delete(&key).unwrap());
        assert!(!c.delete(&key).unwrap());
        assert_eq!(c.get(&key).unwrap(), None);
        assert_eq!(c.incr(&key, 1).unwrap(), None);
        assert!(!c.touch(&key, 1).unwrap());
        assert!(!c.exists(&key).unwrap());
        assert_eq!(c.cas(&key, b"c", 0, 0, 1).unwrap(), Status::NotFound);
        assert_eq!(raw_meta_get(&m.spec(), &key), None);
    }
}

#[test]
fn fetch_invalidate_and_locks_take_binary_keys() {
    let m = Memcached::tcp();
    let c = binary_client(&[m.spec()]);
    let key = b"page \n 1".as_slice();
    let mut runs = 0;
    let mut compute = || {
        runs += 1;
        Ok::<_, memcache::Error>((b"computed".to_vec(), 0))
    };
    let options = FetchOptions::default();
    assert_eq!(
        c.fetch(key, 60, options, &mut compute).unwrap().0,
        b"computed"
    );
    assert_eq!(
        c.fetch(key, 60, options, &mut compute).unwrap().0,
        b"computed"
    );
    assert_eq!(runs, 1);
    assert_eq!(raw_meta_get(&m.spec(), key), Some(b"computed".to_vec()));
    assert!(c.invalidate(key, None).unwrap());
    let stale = c.lease_get(key, 30, 0).unwrap();
    assert_eq!(
        (stale.data.as_slice(), stale.stale, stale.win),
        (&b"computed"[..], true, true)
    );
    let token = c.lock(b"lock \0 name", 10, Duration::from_secs(1)).unwrap();
    assert!(c.unlock(b"lock \0 name", &token).unwrap());
}

#[test]
fn classic_keys_stay_classic_and_the_option_off_refuses_the_others() {
    let m = Memcached::tcp();
    let c = binary_client(&[m.spec()]);
    c.set(b"plain", b"shared", 0, 0).unwrap();
    // A classic client names it: it went unencoded.
    assert_eq!(raw(&m.spec(), b"get plain\r\n"), Some(b"shared".to_vec()));

    let e = c.set(&[b'k'; 187], b"v", 0, 0).unwrap(); // a classic key still
    assert_eq!(e, Status::Stored);
    let e = c.set(&[b' '; 187], b"v", 0, 0).unwrap_err();
    assert_eq!(e.kind(), Kind::BadKey);
    assert!(
        e.message()
            .contains("is 187 bytes long; in base64 that is 252 bytes"),
        "{e}"
    );
    assert_eq!(c.get(b"").unwrap_err().message(), "key is empty");

    let off = Client::new(&[m.spec()]).unwrap();
    let e = off.get(b"a key").unwrap_err();
    assert_eq!(e.kind(), Kind::BadKey);
    assert_eq!(
        e.message(),
        "key \"a key\" contains a space at byte 1: keys may not contain whitespace or control characters"
    );
}

#[test]
fn a_key_prefix_is_part_of_the_binary_key() {
    let m = Memcached::tcp();
    let c = binary_client(&[m.spec()]);
    c.update_options(|o| {
        o.key_prefix = b"app:".to_vec();
        Ok::<(), memcache::Error>(())
    })
    .unwrap();
    c.set(b"x y", b"1", 0, 0).unwrap();
    assert_eq!(raw_meta_get(&m.spec(), b"app:x y"), Some(b"1".to_vec()));
    let hits = c.get_many(&[b"x y".as_slice()]).unwrap();
    assert_eq!(hits[0].key, b"x y");
}

#[test]
fn multi_key_operations_over_three_servers_with_mixed_keys() {
    let servers = [Memcached::tcp(), Memcached::tcp(), Memcached::tcp()];
    let specs: Vec<String> = servers.iter().map(Memcached::spec).collect();
    let c = binary_client(&specs);
    let keys: Vec<Vec<u8>> = (0..60)
        .map(|i| match i % 3 {
            0 => format!("plain{i}").into_bytes(),
            1 => format!("with space {i}").into_bytes(),
            _ => vec![0, 10, 13, i as u8, 255],
        })
        .collect();
    let items: Vec<(&[u8], Vec<u8>, u32)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_slice(), format!("value {i}").into_bytes(), i as u32))
        .collect();
    let outcomes = c.set_many(&items, 0).unwrap();
    assert!(
        outcomes.iter().all(|o| *o == Ok(Status::Stored)),
        "{outcomes:?}"
    );
    // Each landed on the server its bytes hash to, as the server holds it.
    for (i, key) in keys.iter().enumerate() {
        let home = &specs[c.server_for(key).unwrap()];
        let found = match i % 3 {
            0 => raw(
                home,
                format!("get {}\r\n", String::from_utf8_lossy(key)).as_bytes(),
            ),
            _ => raw_meta_get(home, key),
        };
        assert_eq!(found, Some(format!("value {i}").into_bytes()), "{key:?}");
    }
    let used: std::collections::HashSet<usize> =
        keys.iter().map(|k| c.server_for(k).unwrap()).collect();
    assert_eq!(used.len(), 3);

    let mut asked: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    asked.push(b"missing key");
    let mut hits = c.get_many(&asked).unwrap();
    hits.sort_by_key(|h| h.item.flags);
    assert_eq!(hits.len(), 60);
    for (i, hit) in hits.iter().enumerate() {
        assert_eq!(
            (&hit.key, &hit.item.value),
            (&keys[i], &format!("value {i}").into_bytes())
        );
    }
    let deleted = c.delete_many(&asked).unwrap();
    assert_eq!(deleted, [vec![true; 60], vec![false]].concat());
    assert_eq!(c.get_many(&asked).unwrap(), vec![]);
}

#[test]
fn a_server_without_meta_commands_gets_a_clear_error_and_no_data_block() {
    // memcached 1.4 answers ERROR to "mn"; the client must then send
    // nothing else for a binary key (an "ms" data block would be read as
    // commands), and say why.
    let old = ScriptedServer::start(vec![vec![Step::Read, Step::Write(b"ERROR\r\n".to_vec())]]);
    let c = binary_client(&[old.spec()]);
    for _ in 0..2 {
        let e = c.set(b"a key", b"flush_all", 0, 0).unwrap_err();
        assert_eq!(e.kind(), Kind::Client);
        assert_eq!(
            e.message(),
            format!(
                "{}: the server has no meta commands (memcached before 1.6, or a proxy such as twemproxy): binary keys need them",
                old.spec()
            )
        );
    }
    let e = c.get_many(&[b"a key".as_slice()]).unwrap_err();
    assert_eq!(e.kind(), Kind::Client);
    // Asked once: the answer is remembered, and a server known to lack
    // meta gets no connection at all (the one accepted is the question's,
    // counted before the server wrote its ERROR).
    assert_eq!(old.accepted(), 1, "one connection, for the question");
}
