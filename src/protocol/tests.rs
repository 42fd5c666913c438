//! Byte-exact tests of every encoder and reply, at every split point, and
//! a fuzz loop over the parser.

use super::*;
use crate::error::{Error, Kind};

fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut buf = Vec::new();
    f(&mut buf);
    buf
}

/// Parses exactly one unit that fills `buf`.
fn one(buf: &[u8]) -> Reply<'_> {
    match parse(buf) {
        Ok(Some((reply, n))) => {
            assert_eq!(n, buf.len(), "consumed count for {:?}", quote(buf));
            reply
        }
        other => panic!("{:?} -> {other:?}", quote(buf)),
    }
}

fn err(buf: &[u8]) -> Error {
    match parse(buf) {
        Err(e) => {
            assert_eq!(e.kind(), Kind::Protocol);
            e
        }
        other => panic!("{:?} should be an error, got {other:?}", quote(buf)),
    }
}

// --- encoders -------------------------------------------------------

#[test]
fn put_u64_edges() {
    for n in [0, 1, 9, 10, 99, 100, 12345, u64::from(u32::MAX), u64::MAX] {
        assert_eq!(enc(|b| put_u64(b, n)), n.to_string().as_bytes());
    }
}

#[test]
fn store_verbs() {
    let cases: [(StoreVerb, &[u8]); 6] = [
        (StoreVerb::Set, b"set k 1 2 5\r\nhello\r\n"),
        (StoreVerb::Add, b"add k 1 2 5\r\nhello\r\n"),
        (StoreVerb::Replace, b"replace k 1 2 5\r\nhello\r\n"),
        (StoreVerb::Append, b"append k 1 2 5\r\nhello\r\n"),
        (StoreVerb::Prepend, b"prepend k 1 2 5\r\nhello\r\n"),
        (StoreVerb::Cas(77), b"cas k 1 2 5 77\r\nhello\r\n"),
    ];
    for (verb, want) in cases {
        assert_eq!(enc(|b| store(b, verb, b"k", 1, 2, b"hello", false)), want);
    }
}

#[test]
fn store_noreply_and_extremes() {
    assert_eq!(
        enc(|b| store(b, StoreVerb::Set, b"key", 0, 0, b"", true)),
        b"set key 0 0 0 noreply\r\n\r\n"
    );
    assert_eq!(
        enc(|b| store(
            b,
            StoreVerb::Cas(u64::MAX),
            b"key",
            u32::MAX,
            u32::MAX,
            b"v",
            true
        )),
        b"cas key 4294967295 4294967295 1 18446744073709551615 noreply\r\nv\r\n".to_vec()
    );
    assert_eq!(
        enc(|b| store(b, StoreVerb::Append, b"a", 16, 3600, b"xy", true)),
        b"append a 16 3600 2 noreply\r\nxy\r\n"
    );
}

#[test]
fn store_header_only_and_appends() {
    let mut buf = b"prev\r\n".to_vec();
    store_header(&mut buf, StoreVerb::Set, b"big", 3, 4, 1_048_576, false);
    assert_eq!(buf, b"prev\r\nset big 3 4 1048576\r\n");
    let mut buf = Vec::new();
    store_header(&mut buf, StoreVerb::Cas(0), b"c", 0, 0, 0, true);
    assert_eq!(buf, b"cas c 0 0 0 0 noreply\r\n");
}

#[test]
fn retrieval() {
    assert_eq!(
        enc(|b| retrieve(b, RetrieveVerb::Get, [b"a"])),
        b"get a\r\n"
    );
    assert_eq!(
        enc(|b| retrieve(b, RetrieveVerb::Gets, ["a", "bb", "ccc"])),
        b"gets a bb ccc\r\n"
    );
    assert_eq!(
        enc(|b| retrieve(b, RetrieveVerb::Get, [b"x".to_vec(), b"y".to_vec()])),
        b"get x y\r\n"
    );
    assert_eq!(retrieve_one(RetrieveVerb::Get, b"a").concat(), b"get a\r\n");
    assert_eq!(
        retrieve_one(RetrieveVerb::Gets, b"k:1").concat(),
        b"gets k:1\r\n"
    );
    assert_eq!(enc(|b| get_and_touch(b, false, 60, ["k"])), b"gat 60 k\r\n");
    assert_eq!(
        enc(|b| get_and_touch(b, true, 0, ["k1", "k2"])),
        b"gats 0 k1 k2\r\n"
    );
}

#[test]
fn simple_commands() {
    assert_eq!(enc(|b| touch(b, b"k", 10, false)), b"touch k 10\r\n");
    assert_eq!(enc(|b| touch(b, b"k", 0, true)), b"touch k 0 noreply\r\n");
    assert_eq!(enc(|b| delete(b, b"k", false)), b"delete k\r\n");
    assert_eq!(enc(|b| delete(b, b"k", true)), b"delete k noreply\r\n");
    assert_eq!(
        enc(|b| arith(b, Arith::Incr, b"n", 1, false)),
        b"incr n 1\r\n"
    );
    assert_eq!(
        enc(|b| arith(b, Arith::Decr, b"n", u64::MAX, true)),
        b"decr n 18446744073709551615 noreply\r\n".to_vec()
    );
    assert_eq!(enc(|b| flush_all(b, None, false)), b"flush_all\r\n");
    assert_eq!(enc(|b| flush_all(b, None, true)), b"flush_all noreply\r\n");
    assert_eq!(enc(|b| flush_all(b, Some(30), false)), b"flush_all 30\r\n");
    assert_eq!(
        enc(|b| flush_all(b, Some(0), true)),
        b"flush_all 0 noreply\r\n"
    );
    assert_eq!(enc(|b| stats(b, None).unwrap()), b"stats\r\n");
    assert_eq!(
        enc(|b| stats(b, Some(b"slabs")).unwrap()),
        b"stats slabs\r\n"
    );
    let mut buf = Vec::new();
    let e = stats(&mut buf, Some(b"items\r\nflush_all")).unwrap_err();
    assert_eq!(e.kind(), Kind::Invalid);
    assert_eq!(
        e.message(),
        "stats group \"items\\x0d\\x0aflush_all\" contains control character 0x0d at byte 5"
    );
    assert!(buf.is_empty());
    assert_eq!(enc(version), b"version\r\n");
    assert_eq!(enc(|b| verbosity(b, 1, false)), b"verbosity 1\r\n");
    assert_eq!(enc(|b| verbosity(b, 0, true)), b"verbosity 0 noreply\r\n");
    let k = MetaKey::plain(b"k");
    assert_eq!(enc(|b| meta_get(b, k, &[])), b"mg k\r\n");
    assert_eq!(
        enc(|b| meta_get(b, k, &[b"t", b"v", b"f", b"c", b"s"])),
        b"mg k t v f c s\r\n"
    );
    assert_eq!(
        enc(|b| meta_get(b, k, &[b"O123", b"q"])),
        b"mg k O123 q\r\n"
    );
}

// --- replies --------------------------------------------------------

#[test]
fn keyword_replies() {
    let cases: [(&[u8], Reply); 9] = [
        (b"END\r\n", Reply::End),
        (b"STORED\r\n", Reply::Stored),
        (b"NOT_STORED\r\n", Reply::NotStored),
        (b"EXISTS\r\n", Reply::Exists),
        (b"NOT_FOUND\r\n", Reply::NotFound),
        (b"DELETED\r\n", Reply::Deleted),
        (b"TOUCHED\r\n", Reply::Touched),
        (b"OK\r\n", Reply::Ok),
        (b"ERROR\r\n", Reply::Error(b"")),
    ];
    for (buf, want) in cases {
        assert_eq!(one(buf), want);
    }
    assert_eq!(
        one(b"ERROR unknown command\r\n"),
        Reply::Error(b"unknown command")
    );
}

#[test]
fn value_replies() {
    assert_eq!(
        one(b"VALUE foo 5 3\r\nbar\r\n"),
        Reply::Value {
            key: b"foo",
            flags: 5,
            cas: None,
            data: b"bar"
        }
    );
    assert_eq!(
        one(b"VALUE foo 4294967295 0 18446744073709551615\r\n\r\n"),
        Reply::Value {
            key: b"foo",
            flags: u32::MAX,
            cas: Some(u64::MAX),
            data: b""
        }
    );
    assert_eq!(
        one(b"VALUE k 0 2 42\r\nhi\r\n"),
        Reply::Value {
            key: b"k",
            flags: 0,
            cas: Some(42),
            data: b"hi"
        }
    );
}

#[test]
fn value_with_binary_data() {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend_from_slice(b"\r\nEND\r\n");
    data.extend((0..=255u8).rev());
    data.extend_from_slice(b"\r\n");
    let mut buf = format!("VALUE bin 7 {}\r\n", data.len()).into_bytes();
    let header = buf.len();
    buf.extend_from_slice(&data);
    buf.extend_from_slice(b"\r\nEND\r\n");
    let total = buf.len() - 5;
    for cut in 0..total {
        assert_eq!(parse(&buf[..cut]).unwrap(), None, "cut {cut}");
    }
    assert_eq!(needed(&buf[..header]), Some(total));
    let (reply, n) = parse(&buf).unwrap().unwrap();
    assert_eq!(n, total);
    assert_eq!(
        reply,
        Reply::Value {
            key: b"bin",
            flags: 7,
            cas: None,
            data: &data
        }
    );
    assert_eq!(one(&buf[n..]), Reply::End);
}

#[test]
fn large_value_and_needed() {
    let size = 1_048_576;
    let mut buf = format!("VALUE big 0 {size} 9\r\n").into_bytes();
    let header = buf.len();
    assert_eq!(needed(&buf), Some(header + size + 2));
    assert_eq!(needed(&buf[..header - 1]), None);
    assert_eq!(parse(&buf).unwrap(), None);
    buf.resize(header + size, b'\n');
    assert_eq!(parse(&buf).unwrap(), None);
    buf.extend_from_slice(b"\r\n");
    match one(&buf) {
        Reply::Value { cas, data, .. } => {
            assert_eq!(cas, Some(9));
            assert_eq!(data.len(), size);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(needed(&buf), Some(buf.len()));
    assert_eq!(needed(b"VA 10 t5\r\n"), Some(10 + 10 + 2));
    assert_eq!(needed(b"VA 10"), None);
    assert_eq!(needed(b"END\r\n"), None);
    assert_eq!(needed(b"HD\r\n"), None);
    assert_eq!(needed(b"VALUE k x 1\r\n"), None);
    assert_eq!(needed(b""), None);
}

#[test]
fn value_header_numbers() {
    let cas = |line: &[u8]| match parse_start(line) {
        Ok(Some(Start::Value { cas, .. })) => Ok(cas),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e.message().to_string()),
    };
    assert_eq!(cas(b"VALUE k 0 1\r\n"), Ok(None));
    assert_eq!(
        cas(b"VALUE k 0 1 18446744073709551615\r\n"),
        Ok(Some(u64::MAX))
    );
    assert_eq!(
        cas(b"VALUE k 0 1 0018446744073709551615\r\n"),
        Ok(Some(u64::MAX))
    );
    let bad = |what: &str, line: &str| {
        format!(
            "malformed reply from memcached ({what}): \"{}\"",
            line.trim_end_matches("\r\n").replace('\t', "\\t")
        )
    };
    for (line, what) in [
        ("VALUE k 0 1 18446744073709551616\r\n", "VALUE with bad cas"),
        ("VALUE k 0 1 \r\n", "VALUE with bad cas"),
        ("VALUE k 0 1 2 3\r\n", "VALUE with extra fields"),
        ("VALUE k 0 1 2 x\r\n", "VALUE with extra fields"),
        ("VALUE k 0 1 2x\r\n", "VALUE with bad cas"),
        ("VALUE k 0\r\n", "VALUE with bad size"),
        ("VALUE k 0 \r\n", "VALUE with bad size"),
        ("VALUE k 0 -1\r\n", "VALUE with bad size"),
        ("VALUE k 0 +1\r\n", "VALUE with bad size"),
        ("VALUE k 0  1\r\n", "VALUE with bad size"),
        ("VALUE k\r\n", "VALUE with bad flags"),
        ("VALUE k  0 1\r\n", "VALUE with bad flags"),
        ("VALUE k 4294967296 1\r\n", "VALUE with bad flags"),
        ("VALUE k 1\t2 1\r\n", "VALUE with bad flags"),
        ("VALUE  0 1\r\n", "VALUE without key"),
    ] {
        assert_eq!(cas(line.as_bytes()), Err(bad(what, line)), "{line:?}");
    }
}

#[test]
fn value_starts_and_block_ends() {
    let buf = b"VALUE k 5 3 77\r\nabc\r\nEND\r\n";
    assert_eq!(
        parse_start(buf).unwrap(),
        Some(Start::Value {
            key: b"k",
            flags: 5,
            cas: Some(77),
            size: 3,
            header: 16,
        })
    );
    // The header alone is enough: the data need not be buffered.
    assert_eq!(
        parse_start(b"VALUE big 0 1048576\r\n").unwrap(),
        Some(Start::Value {
            key: b"big",
            flags: 0,
            cas: None,
            size: 1_048_576,
            header: 21,
        })
    );
    assert_eq!(parse_start(b"VALUE k 5 3").unwrap(), None);
    assert_eq!(parse_start(b"").unwrap(), None);
    assert_eq!(
        parse_start(b"END\r\nxx").unwrap(),
        Some(Start::Other(Reply::End, 5))
    );
    assert_eq!(
        parse_start(b"SERVER_ERROR out of memory\r\n").unwrap(),
        Some(Start::Other(Reply::ServerError(b"out of memory"), 28))
    );
    assert_eq!(
        parse_start(b"VALUE k x 3\r\n").unwrap_err().kind(),
        Kind::Protocol
    );
    assert_eq!(
        parse_start(b"BOGUS\r\n").unwrap_err().kind(),
        Kind::Protocol
    );

    // Meta: the opaque token stands where the key does.
    assert_eq!(
        parse_start(b"VA 3 f16 c9 O4\r\nabc\r\n").unwrap(),
        Some(Start::Value {
            key: b"4",
            flags: 16,
            cas: Some(9),
            size: 3,
            header: 16,
        })
    );
    assert_eq!(
        parse_start(b"VA 0\r\n\r\n").unwrap(),
        Some(Start::Value {
            key: b"",
            flags: 0,
            cas: None,
            size: 0,
            header: 6,
        })
    );
    for bad in [&b"VA 3 f4294967296\r\n"[..], b"VA 3 c-1\r\n", b"VA x\r\n"] {
        let e = parse_start(bad).unwrap_err();
        assert_eq!(e.kind(), Kind::Protocol, "{bad:?}");
        assert!(
            e.message()
                .starts_with("malformed reply from memcached (VA "),
            "{e}"
        );
    }

    let line = b"VALUE k 0 3";
    assert_eq!(block_end(b"\r\nEND\r\n", line).unwrap(), Some(2));
    assert_eq!(block_end(b"\r\n", line).unwrap(), Some(2));
    assert_eq!(block_end(b"\r", line).unwrap(), None);
    assert_eq!(block_end(b"", line).unwrap(), None);
    for bad in [&b"x"[..], b"\n", b"\rx", b"ab\r\n"] {
        let e = block_end(bad, line).unwrap_err();
        assert_eq!(e.kind(), Kind::Protocol);
        // the same message as parse() gives for the whole unit
        assert_eq!(e, parse(b"VALUE k 0 3\r\nabcXY").unwrap_err());
    }
}

#[test]
fn numbers() {
    assert_eq!(one(b"0\r\n"), Reply::Number(0));
    assert_eq!(one(b"42\r\n"), Reply::Number(42));
    assert_eq!(one(b"10   \r\n"), Reply::Number(10));
    assert_eq!(one(b"18446744073709551615\r\n"), Reply::Number(u64::MAX));
    assert_eq!(
        one(b"000000000000000000000000018446744073709551615\r\n"),
        Reply::Number(u64::MAX)
    );
}

#[test]
fn stat_version_and_errors() {
    assert_eq!(
        one(b"STAT pid 1234\r\n"),
        Reply::Stat {
            name: b"pid",
            value: b"1234"
        }
    );
    assert_eq!(
        one(b"STAT version 1.6.18 with spaces  here\r\n"),
        Reply::Stat {
            name: b"version",
            value: b"1.6.18 with spaces  here"
        }
    );
    assert_eq!(
        one(b"STAT empty \r\n"),
        Reply::Stat {
            name: b"empty",
            value: b""
        }
    );
    assert_eq!(
        one(b"STAT bare\r\n"),
        Reply::Stat {
            name: b"bare",
            value: b""
        }
    );
    assert_eq!(one(b"VERSION 1.6.18\r\n"), Reply::Version(b"1.6.18"));
    assert_eq!(one(b"VERSION\r\n"), Reply::Version(b""));
    assert_eq!(
        one(b"CLIENT_ERROR bad command line format\r\n"),
        Reply::ClientError(b"bad command line format")
    );
    assert_eq!(one(b"CLIENT_ERROR\r\n"), Reply::ClientError(b""));
    assert_eq!(one(b"CLIENT_ERROR \r\n"), Reply::ClientError(b""));
    assert_eq!(
        one(b"SERVER_ERROR object too large for cache\r\n"),
        Reply::ServerError(b"object too large for cache")
    );
    assert_eq!(one(b"SERVER_ERROR\r\n"), Reply::ServerError(b""));
}

#[test]
fn meta_replies() {
    let meta =
        |code, flags: &'static [u8], data: Option<&'static [u8]>| Reply::Meta { code, flags, data };
    assert_eq!(one(b"HD\r\n"), meta(MetaCode::Hd, b"", None));
    assert_eq!(
        one(b"HD t3599 f16 c7\r\n"),
        meta(MetaCode::Hd, b"t3599 f16 c7", None)
    );
    assert_eq!(one(b"EN\r\n"), meta(MetaCode::En, b"", None));
    assert_eq!(one(b"NF\r\n"), meta(MetaCode::Nf, b"", None));
    assert_eq!(one(b"NS O99\r\n"), meta(MetaCode::Ns, b"O99", None));
    assert_eq!(one(b"EX c12\r\n"), meta(MetaCode::Ex, b"c12", None));
    assert_eq!(one(b"MN\r\n"), meta(MetaCode::Mn, b"", None));
    assert_eq!(
        one(b"VA 5 t-1 f0 s5\r\nhello\r\n"),
        meta(MetaCode::Va, b"t-1 f0 s5", Some(b"hello"))
    );
    assert_eq!(one(b"VA 0\r\n\r\n"), meta(MetaCode::Va, b"", Some(b"")));
    assert_eq!(
        one(b"VA 6 \r\n\r\nEN\r\n\r\n"),
        meta(MetaCode::Va, b"", Some(b"\r\nEN\r\n"))
    );
    assert_eq!(parse(b"VA 5 f1\r\nhell").unwrap(), None);
    assert_eq!(parse(b"VA 5 f1\r\nhello\r").unwrap(), None);
    err(b"VA 5 f1\r\nhello!!");
    err(b"VA\r\n");
    err(b"VA x\r\n\r\n");
    err(b"VA 4294967296\r\n");
    err(b"HDX\r\n");
    err(b"hd\r\n");
    err(b"ME k exp=-1\r\n");
}

#[test]
fn meta_flag_lookup() {
    let flags = b"t3599 f16 c123 s5 W kfoo";
    assert_eq!(meta_flag(flags, b't'), Some(&b"3599"[..]));
    assert_eq!(meta_flag(flags, b'f'), Some(&b"16"[..]));
    assert_eq!(meta_flag(flags, b'c'), Some(&b"123"[..]));
    assert_eq!(meta_flag(flags, b's'), Some(&b"5"[..]));
    assert_eq!(meta_flag(flags, b'W'), Some(&b""[..]));
    assert_eq!(meta_flag(flags, b'k'), Some(&b"foo"[..]));
    assert_eq!(meta_flag(flags, b'v'), None);
    assert_eq!(meta_flag(flags, b'3'), None);
    assert_eq!(meta_flag(b"", b't'), None);
    assert_eq!(meta_flag(b"  t1  ", b't'), Some(&b"1"[..]));
}

#[test]
fn garbage_is_an_error() {
    for bad in [
        &b"\r\n"[..],
        b"HELLO\r\n",
        b"end\r\n",
        b"END \r\n",
        b" END\r\n",
        b"STORED\rX\r\n",
        b"STAT \r\n",
        b"STAT  x\r\n",
        b"12a\r\n",
        b"12 3\r\n",
        b"1\t\r\n",
        b"18446744073709551616\r\n",
        b"99999999999999999999999\r\n",
        b"VALUE\r\n",
        b"VALUE \r\n",
        b"VALUE k\r\n",
        b"VALUE k 0\r\n",
        b"VALUE k x 1\r\nx\r\n",
        b"VALUE k -1 1\r\nx\r\n",
        b"VALUE k 4294967296 1\r\nx\r\n",
        b"VALUE k 0 4294967296\r\n",
        b"VALUE k 0 +1\r\nx\r\n",
        b"VALUE k 0 1 x\r\nx\r\n",
        b"VALUE k 0 1 18446744073709551616\r\nx\r\n",
        b"VALUE k 0 1 2 3\r\nx\r\n",
        b"VALUE k  0 1\r\nx\r\n",
        b"VALUE k 0 1 \r\nx\r\n",
        b"VALUE k 0 3\r\nabcde",
        b"VALUE k 0 3\r\nabc\n\r",
        b"VALUE k 0 3\r\nabc\rX",
    ] {
        err(bad);
    }
}

#[test]
fn lone_newline() {
    let e = err(b"STORED\n");
    assert!(e.message().contains("STORED"), "{}", e.message());
    err(b"\n");
    err(b"END\nEND\r\n");
    // A "\r" not yet followed by anything is still incomplete.
    assert_eq!(parse(b"STORED\r").unwrap(), None);
    assert_eq!(parse(b"STOR").unwrap(), None);
    assert_eq!(parse(b"").unwrap(), None);
}

#[test]
fn line_length_limit() {
    let mut line = vec![b'x'; MAX_LINE + 1];
    assert_eq!(parse(&line).unwrap(), None);
    line.push(b'x');
    let e = err(&line);
    assert!(e.message().len() < 200, "{}", e.message());
    assert!(e.message().contains("xxx..."), "{}", e.message());
    // Exactly MAX_LINE bytes before the CRLF is accepted...
    let mut ok = b"STAT name ".to_vec();
    ok.resize(MAX_LINE, b'v');
    ok.extend_from_slice(b"\r\n");
    match one(&ok) {
        Reply::Stat { name, value } => {
            assert_eq!(name, b"name");
            assert_eq!(value.len(), MAX_LINE - 10);
        }
        other => panic!("{other:?}"),
    }
    // ...one more is not.
    let mut long = b"STAT name ".to_vec();
    long.resize(MAX_LINE + 1, b'v');
    long.extend_from_slice(b"\r\n");
    err(&long);
}

#[test]
fn error_messages_quote_escaped_line() {
    let e = err(b"HELLO \x01\xff there\r\n");
    assert_eq!(
        e.message(),
        "malformed reply from memcached (unknown reply): \"HELLO \\x01\\xff there\""
    );
    let e = err(b"VALUE k 0 3\r\nabcXY");
    assert!(e.message().contains("not followed"), "{}", e.message());
    assert!(e.message().contains("VALUE k 0 3"), "{}", e.message());
    let e = err(b"18446744073709551616\r\n");
    assert!(
        e.message().contains("18446744073709551616"),
        "{}",
        e.message()
    );
}

/// A pipeline's worth of replies and what each must parse to.
fn sample() -> (Vec<u8>, Vec<(Reply<'static>, usize)>) {
    let units: Vec<(&'static [u8], Reply<'static>)> = vec![
        (
            b"VALUE a 1 3 99\r\nx\r\n\r\n",
            Reply::Value {
                key: b"a",
                flags: 1,
                cas: Some(99),
                data: b"x\r\n",
            },
        ),
        (
            b"VALUE bb 0 0\r\n\r\n",
            Reply::Value {
                key: b"bb",
                flags: 0,
                cas: None,
                data: b"",
            },
        ),
        (b"END\r\n", Reply::End),
        (b"STORED\r\n", Reply::Stored),
        (b"NOT_STORED\r\n", Reply::NotStored),
        (b"EXISTS\r\n", Reply::Exists),
        (b"NOT_FOUND\r\n", Reply::NotFound),
        (b"DELETED\r\n", Reply::Deleted),
        (b"TOUCHED\r\n", Reply::Touched),
        (b"OK\r\n", Reply::Ok),
        (b"1234 \r\n", Reply::Number(1234)),
        (
            b"STAT rusage_user 0.1 2\r\n",
            Reply::Stat {
                name: b"rusage_user",
                value: b"0.1 2",
            },
        ),
        (b"VERSION 1.6.18\r\n", Reply::Version(b"1.6.18")),
        (b"ERROR\r\n", Reply::Error(b"")),
        (b"CLIENT_ERROR oops\r\n", Reply::ClientError(b"oops")),
        (
            b"SERVER_ERROR out of memory\r\n",
            Reply::ServerError(b"out of memory"),
        ),
        (
            b"HD c5\r\n",
            Reply::Meta {
                code: MetaCode::Hd,
                flags: b"c5",
                data: None,
            },
        ),
        (
            b"VA 2 f3\r\nEN\r\n",
            Reply::Meta {
                code: MetaCode::Va,
                flags: b"f3",
                data: Some(b"EN"),
            },
        ),
        (
            b"EN\r\n",
            Reply::Meta {
                code: MetaCode::En,
                flags: b"",
                data: None,
            },
        ),
        (
            b"MN\r\n",
            Reply::Meta {
                code: MetaCode::Mn,
                flags: b"",
                data: None,
            },
        ),
    ];
    let mut buf = Vec::new();
    let mut want = Vec::new();
    for (bytes, reply) in units {
        buf.extend_from_slice(bytes);
        want.push((reply, bytes.len()));
    }
    (buf, want)
}

#[test]
fn back_to_back() {
    let (buf, want) = sample();
    let mut off = 0;
    for (reply, len) in &want {
        assert_eq!(parse(&buf[off..]).unwrap(), Some((*reply, *len)));
        off += len;
    }
    assert_eq!(off, buf.len());
    assert_eq!(parse(&buf[off..]).unwrap(), None);
}

#[test]
fn every_split_point() {
    let (buf, want) = sample();
    for cut in 0..=buf.len() {
        let prefix = &buf[..cut];
        let mut off = 0;
        for (reply, len) in &want {
            if off + len > cut {
                break;
            }
            assert_eq!(
                parse(&prefix[off..]).unwrap(),
                Some((*reply, *len)),
                "cut {cut} off {off}"
            );
            off += len;
        }
        assert_eq!(parse(&prefix[off..]).unwrap(), None, "cut {cut} off {off}");
    }
}

// --- fuzz -----------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bytes that steer the parser into its interesting branches.
const SPICE: &[u8] = b"\r\n 0123456789VALUESTAHDNFXMERO_";

fn random_buffer(rng: &mut XorShift, seeds: &[&[u8]]) -> Vec<u8> {
    match rng.below(4) {
        0 => (0..rng.below(48))
            .map(|_| {
                if rng.below(2) == 0 {
                    SPICE[rng.below(SPICE.len())]
                } else {
                    rng.next() as u8
                }
            })
            .collect(),
        1 if rng.below(50) == 0 => {
            // Around the line limit.
            let mut v = vec![b'a'; MAX_LINE - 2 + rng.below(6)];
            v.extend_from_slice(&b"\r\n"[..rng.below(3)]);
            v
        }
        _ => {
            let mut v = Vec::new();
            for _ in 0..1 + rng.below(4) {
                v.extend_from_slice(seeds[rng.below(seeds.len())]);
            }
            for _ in 0..rng.below(4) {
                let at = rng.below(v.len() + 1);
                let byte = if rng.below(2) == 0 {
                    SPICE[rng.below(SPICE.len())]
                } else {
                    rng.next() as u8
                };
                match rng.below(5) {
                    0 if at < v.len() => v[at] = byte,
                    1 => v.insert(at, byte),
                    2 if at < v.len() => {
                        v.remove(at);
                    }
                    3 => v.truncate(at),
                    _ => {
                        // A run of digits: huge sizes, flags and numbers.
                        for _ in 0..rng.below(25) {
                            v.insert(at.min(v.len()), b'0' + rng.below(10) as u8);
                        }
                    }
                }
            }
            v
        }
    }
}

#[test]
fn fuzz_parse_and_needed() {
    let seeds: &[&[u8]] = &[
        b"VALUE a 1 3 99\r\nx\r\n\r\n",
        b"VALUE key 4294967295 5\r\nhello\r\n",
        b"END\r\n",
        b"STORED\r\n",
        b"NOT_FOUND\r\n",
        b"18446744073709551615\r\n",
        b"12  \r\n",
        b"STAT a b c\r\n",
        b"VERSION 1.6\r\n",
        b"ERROR\r\n",
        b"CLIENT_ERROR x\r\n",
        b"SERVER_ERROR y\r\n",
        b"HD t1 f2\r\n",
        b"VA 3 s3\r\nabc\r\n",
        b"EN\r\n",
        b"MN\r\n",
        b"NS\r\n",
        b"EX c1\r\n",
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0usize;
    for _ in 0..100_000 {
        let buf = random_buffer(&mut rng, seeds);

        // Walk the buffer unit by unit, as a connection would.
        let mut off = 0;
        while let Ok(Some((_, n))) = parse(&buf[off..]) {
            assert!(
                n > 0 && n <= buf.len() - off,
                "n {n} at {off} of {}",
                buf.len()
            );
            off += n;
            parsed += 1;
        }

        // needed() is consistent with parse() once the bytes are there.
        if let Some(total) = needed(&buf) {
            assert!(total > 0);
            if buf.len() >= total {
                match parse(&buf) {
                    Ok(Some((_, n))) => assert_eq!(n, total),
                    Err(_) => {}
                    Ok(None) => panic!("needed {total} but incomplete"),
                }
            } else {
                assert_eq!(parse(&buf).unwrap(), None);
            }
        }

        // More bytes never change an answer already given.
        let cut = rng.below(buf.len() + 1);
        match parse(&buf[..cut]) {
            Ok(Some(got)) => assert_eq!(parse(&buf).unwrap(), Some(got)),
            Err(_) => assert!(parse(&buf).is_err()),
            Ok(None) => {}
        }
    }
    // The mutations must leave plenty of valid input, or this tests little.
    assert!(parsed > 50_000, "only {parsed} units parsed");
}
