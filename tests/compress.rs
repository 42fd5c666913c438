//! Compressed values (flag 8, zlib: python-memcached's convention, the
//! python value format) against a real memcached: written raw on a socket
//! as other clients write them, read on every path; written with a
//! threshold and read back raw; left alone by the raw format (the default).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use memcache::{Client, Kind, Options, Status, ValueFormat};
use support::Memcached;

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn unzlib(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ZlibDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

/// A client of `spec` in the python value format, compressing values of
/// `compress_min` bytes or more.
fn python_client(spec: &str, compress_min: Option<usize>) -> Client {
    let c = Client::new(&[spec]).unwrap();
    c.set_options(Options {
        value_format: ValueFormat::Python,
        compress_min,
        ..c.options()
    })
    .unwrap();
    c
}

/// One raw request on a new connection; the reply up to `end`.
fn raw(spec: &str, request: &[u8], end: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(spec).unwrap();
    s.write_all(request).unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 65536];
    while !reply.ends_with(end) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {reply:?}");
        reply.extend_from_slice(&buf[..n]);
    }
    reply
}

/// Stores `data` under `key` with `flags`, as another client would.
fn raw_set(spec: &str, key: &str, flags: u32, data: &[u8]) {
    let mut request = format!("set {key} {flags} 0 {}\r\n", data.len()).into_bytes();
    request.extend_from_slice(data);
    request.extend_from_slice(b"\r\n");
    assert_eq!(raw(spec, &request, b"\r\n"), b"STORED\r\n");
}

/// The flags and data the server holds for `key`.
fn raw_get(spec: &str, key: &str) -> (u32, Vec<u8>) {
    let reply = raw(spec, format!("get {key}\r\n").as_bytes(), b"END\r\n");
    let line_end = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    let header = std::str::from_utf8(&reply[..line_end]).unwrap();
    let words: Vec<&str> = header.split(' ').collect();
    assert_eq!(words[0], "VALUE", "{header}");
    let size: usize = words[3].parse().unwrap();
    (
        words[2].parse().unwrap(),
        reply[line_end + 2..line_end + 2 + size].to_vec(),
    )
}

#[test]
fn values_other_clients_compressed_are_read_on_every_path() {
    let m = Memcached::tcp();
    let spec = m.spec();
    let text = "caf\u{e9} ".repeat(2000);
    raw_set(&spec, "text", 24, &zlib(text.as_bytes()));
    raw_set(&spec, "bytes", 8, &zlib(&[0u8, 255, 1, 2].repeat(500)));
    raw_set(&spec, "plain", 16, b"as is");
    let c = python_client(&spec, None);

    let item = c.get(b"text").unwrap().unwrap();
    assert_eq!((item.value.as_slice(), item.flags), (text.as_bytes(), 16));
    let item = c.get(b"bytes").unwrap().unwrap();
    assert_eq!(item.value, [0u8, 255, 1, 2].repeat(500));
    assert_eq!(item.flags, 0);
    let item = c.get_and_touch(b"text", 100).unwrap().unwrap();
    assert_eq!((item.value.as_slice(), item.flags), (text.as_bytes(), 16));

    let hits = c.get_many(&[&b"plain"[..], b"text", b"bytes"]).unwrap();
    let got: Vec<(&[u8], usize, u32)> = hits
        .iter()
        .map(|h| (h.key.as_slice(), h.item.value.len(), h.item.flags))
        .collect();
    assert_eq!(
        got,
        [
            (&b"plain"[..], 5, 16),
            (b"text", text.len(), 16),
            (b"bytes", 2000, 0)
        ]
    );
    // A read-modify-write of a compressed value sees it decompressed.
    let seen = std::cell::RefCell::new(Vec::new());
    c.update(b"text", 0, |item| {
        seen.replace(item.unwrap().value.clone());
        Ok::<_, memcache::Error>(memcache::Change::Store {
            value: b"new".to_vec(),
            flags: 16,
        })
    })
    .unwrap();
    assert_eq!(seen.into_inner(), text.as_bytes());
    assert_eq!(raw_get(&spec, "text"), (16, b"new".to_vec()));
}

#[test]
fn a_decompression_bomb_and_bad_data_are_errors_and_the_connection_goes_on() {
    let m = Memcached::tcp();
    let spec = m.spec();
    // 129 MiB of zeros: about 130 KB compressed.
    raw_set(&spec, "bomb", 8, &zlib(&vec![0u8; 129 << 20]));
    raw_set(&spec, "junk", 24, b"this is not zlib");
    raw_set(&spec, "ok", 0, b"fine");
    let c = python_client(&spec, None);
    let e = c.get(b"bomb").unwrap_err();
    assert_eq!(e.kind(), Kind::TooLarge);
    assert_eq!(
        e.message(),
        format!("{spec}: a compressed value (flag 8) expands past 128 MiB: not decompressed")
    );
    assert_eq!(c.get(b"ok").unwrap().unwrap().value, b"fine");
    let e = c.get(b"junk").unwrap_err();
    assert_eq!(e.kind(), Kind::Protocol);
    assert!(
        e.message().starts_with(&format!(
            "{spec}: a value flagged as compressed (flag 8) is not zlib data: "
        )),
        "{}",
        e.message()
    );
    let e = c.get_many(&[&b"ok"[..], b"bomb"]).unwrap_err();
    assert_eq!(e.kind(), Kind::TooLarge);
    assert_eq!(c.get(b"ok").unwrap().unwrap().value, b"fine");
}

#[test]
fn a_threshold_compresses_what_it_shrinks_and_nothing_else() {
    let m = Memcached::tcp();
    let spec = m.spec();
    let c = python_client(&spec, Some(1000));
    let long = "hello ".repeat(200); // 1200 bytes
    assert_eq!(
        c.set(b"long", long.as_bytes(), 16, 0).unwrap(),
        Status::Stored
    );
    let (flags, data) = raw_get(&spec, "long");
    assert_eq!((flags, &data[..2]), (24, &[0x78u8, 0x9c][..]));
    assert_eq!(unzlib(&data), long.as_bytes());
    assert_eq!(c.get(b"long").unwrap().unwrap().value, long.as_bytes());

    // Under the threshold, or not smaller compressed: stored as given.
    c.set(b"short", b"hello hello", 16, 0).unwrap();
    assert_eq!(raw_get(&spec, "short"), (16, b"hello hello".to_vec()));
    // xorshift bytes: zlib makes them longer.
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..4000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    c.set(b"noise", &noise, 0, 0).unwrap();
    let (flags, data) = raw_get(&spec, "noise");
    assert!(
        flags == 0 && data == noise,
        "noise stored with flags {flags}"
    );

    // set_many compresses the same way; append never.
    let items = [(&b"m1"[..], long.as_bytes(), 0u32)];
    c.set_many(&items, 0).unwrap();
    assert_eq!(raw_get(&spec, "m1").0, 8);
    c.set(b"log", b"start:", 0, 0).unwrap();
    c.append(b"log", long.as_bytes()).unwrap();
    let (flags, data) = raw_get(&spec, "log");
    assert_eq!((flags, data.len()), (0, 6 + long.len()));
}

#[test]
fn the_raw_format_returns_flags_and_bytes_exactly_and_compresses_nothing() {
    let m = Memcached::tcp();
    let spec = m.spec();
    let packed = zlib("raw ".repeat(500).as_bytes());
    raw_set(&spec, "z", 24, &packed);
    raw_set(&spec, "bomb", 8, b"not even zlib");
    let c = Client::new(&[&spec]).unwrap();
    assert_eq!(c.options().value_format, ValueFormat::Raw);
    let item = c.get(b"z").unwrap().unwrap();
    assert_eq!((item.value, item.flags), (packed.clone(), 24));
    let hits = c.get_many(&[&b"z"[..], b"bomb"]).unwrap();
    assert_eq!(hits[1].item.value, b"not even zlib");
    assert_eq!(hits[1].item.flags, 8);
    // A threshold has no effect in the raw format.
    c.set_options(Options {
        compress_min: Some(10),
        ..c.options()
    })
    .unwrap();
    let long = "raw ".repeat(500);
    c.set(b"long", long.as_bytes(), 0xdead_beef, 0).unwrap();
    assert_eq!(
        raw_get(&spec, "long"),
        (0xdead_beef, long.as_bytes().to_vec())
    );
}
