//! [`value_of`]: the read of a value for the key expected next, which must
//! agree with [`parse`] wherever it answers and leave the rest to it.

use super::*;

/// `value_of`'s answer as `parse` gives it, for comparing the two.
fn as_parsed<'a>(buf: &'a [u8], key: &'a [u8]) -> Option<(Reply<'a>, usize)> {
    value_of(buf, key).map(|(flags, cas, data, used)| {
        let reply = Reply::Value {
            key,
            flags,
            cas,
            data,
        };
        (reply, used)
    })
}

#[test]
fn the_expected_key() {
    let buf = b"VALUE k1 5 3\r\nabc\r\nEND\r\n";
    assert_eq!(value_of(buf, b"k1"), Some((5, None, &b"abc"[..], 19)));
    let buf = b"VALUE k1 4294967295 0 18446744073709551\r\n\r\n";
    assert_eq!(
        value_of(buf, b"k1"),
        Some((u32::MAX, Some(18446744073709551), &b""[..], 43))
    );
    // The data is located by its length: it may hold a reply's bytes.
    let buf = b"VALUE k 0 7\r\n\r\nEND\r\n\r\nVALUE";
    assert_eq!(
        value_of(buf, b"k"),
        Some((0, None, &b"\r\nEND\r\n"[..], 22))
    );
}

#[test]
fn anything_else_is_left_to_parse() {
    let unit = b"VALUE key 0 3\r\nabc\r\n";
    // Another key: a prefix of the one expected, or longer, or empty.
    for key in [&b"ke"[..], b"keys", b"kex", b""] {
        assert_eq!(value_of(unit, key), None, "{key:?}");
    }
    // Not a VALUE, a bad or missing field, a 20-digit number, a flags
    // over u32, a size over 1 GiB, a bad terminator.
    for buf in [
        &b"END\r\n"[..],
        b"VALUE key  0 3\r\nabc\r\n",
        b"VALUE key 0\r\n",
        b"VALUE key x 3\r\nabc\r\n",
        b"VALUE key 0 3 1 2\r\nabc\r\n",
        b"VALUE key 0 3\rxabc\r\n",
        b"VALUE key 0 3\r\nabcd\r\n",
        b"VALUE key 0 3 12345678901234567890\r\nabc\r\n",
        b"VALUE key 4294967296 3\r\nabc\r\n",
        b"VALUE key 0 1073741825\r\n",
    ] {
        assert_eq!(
            value_of(buf, b"key"),
            None,
            "{}",
            String::from_utf8_lossy(buf)
        );
    }
    let err = parse(b"VALUE key 0 3\r\nabcd\r\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed reply from memcached (data block not followed by \\r\\n): \"VALUE key 0 3\""
    );
}

#[test]
fn agrees_with_parse_at_every_length() {
    let stream = b"VALUE a 1 2 77\r\nxy\r\nVALUE bb 0 0\r\n\r\nEND\r\n";
    for key in [&b"a"[..], b"bb", b"b"] {
        for at in [0, 20] {
            for end in at..=stream.len() {
                let buf = &stream[at..end];
                let Some(quick) = as_parsed(buf, key) else {
                    continue;
                };
                assert_eq!(Some(quick), parse(buf).unwrap(), "{key:?} {at}..{end}");
            }
        }
    }
    // Complete units are answered, incomplete ones are not.
    assert_eq!(value_of(&stream[..19], b"a"), None);
    assert_eq!(
        value_of(&stream[..20], b"a"),
        Some((1, Some(77), &b"xy"[..], 20))
    );
    assert_eq!(
        value_of(&stream[20..36], b"bb"),
        Some((0, None, &b""[..], 16))
    );
}

#[test]
fn a_cas_of_every_length() {
    // One to twenty digits: eight at a time, then byte by byte; at every
    // cut of the buffer (fewer than eight bytes left: byte by byte).
    let mut cases: Vec<u64> = vec![0, 7, u64::MAX / 10, u64::MAX];
    let mut n = 1u64;
    while let Some(next) = n.checked_mul(10) {
        cases.extend([n - 1, n, n + 1, next / 3]);
        n = next;
    }
    for cas in cases {
        let stream = format!("VALUE k 3 2 {cas}\r\nab\r\nEND\r\n");
        let stream = stream.as_bytes();
        let unit = stream.len() - 5;
        for end in 0..=stream.len() {
            let buf = &stream[..end];
            let quick = value_of(buf, b"k");
            if end < unit {
                assert_eq!(quick, None, "{cas} cut at {end}");
                continue;
            }
            if cas.to_string().len() > 19 {
                // The general path reads (and checks) a 20th digit.
                assert_eq!(quick, None, "{cas}");
                continue;
            }
            assert_eq!(
                quick,
                Some((3, Some(cas), &b"ab"[..], unit)),
                "{cas} cut at {end}"
            );
            assert_eq!(
                as_parsed(buf, b"k"),
                parse(buf).unwrap(),
                "{cas} cut at {end}"
            );
        }
    }
    // A digit run ended by anything but a space or the line's end, at
    // every place within and after a word.
    for len in 1..=18 {
        let digits = "9".repeat(len);
        for bad in [&b"x"[..], b"\xff", b"/", b":", b"\0"] {
            let mut buf = format!("VALUE k 0 1 {digits}").into_bytes();
            buf.extend_from_slice(bad);
            buf.extend_from_slice(b"\r\nx\r\n");
            assert_eq!(value_of(&buf, b"k"), None, "{len} {bad:?}");
            assert!(parse(&buf).is_err(), "{len} {bad:?}");
        }
    }
}
