//! Keys: the one check every key passes before anything is sent, and
//! automatically generated unique keys.
//!
//! A key that memcached's text protocol cannot carry must never reach the
//! socket: a space splits it into two tokens and a CR/LF ends the command
//! early, so the server would read the rest (or the value) as a new command
//! and every later reply on that connection would answer the wrong request.

use crate::error::{Error, Kind, Result};

/// The longest key memcached accepts, in bytes.
pub const MAX_LEN: usize = 250;

/// The longest binary key: memcached checks its 250-byte limit on the
/// key as sent, and 186 bytes are 248 in base64.
pub const MAX_BINARY_LEN: usize = 186;

/// Length in characters of a key made by [`unique`].
pub const UNIQUE_LEN: usize = 32;

/// Checks that `key` can be sent: 1 to 250 bytes, none of them a control
/// character (0x00-0x1f, 0x7f) or a space. Bytes 0x80-0xff are allowed, so
/// UTF-8 keys work (python-memcached's and pymemcache's rule).
///
/// Inlined, with the refusal out of line: it runs for every key, and as a
/// call it cost 24 instructions a key more (callgrind, C mget100).
#[inline(always)]
pub fn check(key: &[u8]) -> Result<()> {
    // Eight bytes a step (a key is short: a vectorized pass costs more to
    // set up than it saves; measured, `make bench`'s mget100 count).
    if key.is_empty() || key.len() > MAX_LEN || has_bad_byte(key) {
        return Err(refusal(key));
    }
    Ok(())
}

/// Why [`check`] refuses `key`; the position of a bad byte is looked for
/// only here.
#[cold]
fn refusal(key: &[u8]) -> Error {
    if key.is_empty() {
        return Error::new(Kind::BadKey, "key is empty");
    }
    if key.len() > MAX_LEN {
        return Error::new(
            Kind::BadKey,
            format!(
                "key is {} bytes long, the limit is {MAX_LEN}: \"{}...\"",
                key.len(),
                show(&key[..40])
            ),
        );
    }
    let pos = key.iter().position(|&b| bad(b)).unwrap_or(0);
    let what = if key[pos] == b' ' {
        "a space".to_string()
    } else {
        format!("control character 0x{:02x}", key[pos])
    };
    Error::new(
        Kind::BadKey,
        format!(
            "key \"{}\" contains {what} at byte {pos}: keys may not contain whitespace or control characters",
            show(key)
        ),
    )
}

/// Whether `key` has a byte at or below 0x20 (a control character or a
/// space) or 0x7f, eight bytes at a time with the classic word tricks
/// ("has a byte less than 0x21", "has a zero byte" of the word XOR 0x7f),
/// which are exact as a yes or no.
fn has_bad_byte(key: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let lanes = |w: u64| {
        let low = w.wrapping_sub(ONES * 0x21) & !w & HIGH;
        let del = w ^ (ONES * 0x7f);
        let del = del.wrapping_sub(ONES) & !del & HIGH;
        low | del != 0
    };
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        if lanes(word) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| bad(b))
}

/// A byte no classic key may hold: a control character, a space, DEL.
fn bad(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

/// Checks that `key` can be sent as a binary key (base64, meta commands
/// only): 1 to [`MAX_BINARY_LEN`] bytes of any value.
pub fn check_binary(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::new(Kind::BadKey, "key is empty"));
    }
    if key.len() > MAX_BINARY_LEN {
        return Err(Error::new(
            Kind::BadKey,
            format!(
                "binary key \"{}...\" is {} bytes long; in base64 that is {} bytes, over memcached's 250: a key that is not a classic key may be at most {MAX_BINARY_LEN} bytes",
                show(&key[..40]),
                key.len(),
                crate::protocol::base64_len(key.len())
            ),
        ));
    }
    Ok(())
}

/// A printable rendering of key bytes for error messages: control bytes as
/// `\xNN`, invalid UTF-8 replaced.
pub(crate) fn show(key: &[u8]) -> String {
    let mut out = String::with_capacity(key.len());
    for chunk in String::from_utf8_lossy(key).chars() {
        if chunk.is_control() {
            out.push_str(&format!("\\x{:02x}", chunk as u32));
        } else {
            out.push(chunk);
        }
    }
    out
}

/// A new random key: 128 bits from the kernel's random source as 32
/// lowercase hex digits, so two processes (or two forks of one) never make
/// the same key.
pub fn unique() -> Result<String> {
    let mut bytes = [0u8; 16];
    // SAFETY: the pointer and length describe `bytes`. getrandom(2) returns
    // requests of up to 256 bytes whole once the kernel pool is initialised;
    // anything else (an old kernel, a seccomp filter) falls back to the device.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| {
                Error::new(
                    Kind::Io,
                    format!("cannot read random bytes for a unique key: {e}"),
                )
            })?;
    }
    let mut out = String::with_capacity(UNIQUE_LEN);
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_and_message(key: &[u8]) -> (Kind, String) {
        let e = check(key).unwrap_err();
        (e.kind(), e.message().to_string())
    }

    #[test]
    fn good_keys() {
        assert_eq!(check(b"a"), Ok(()));
        assert_eq!(check(&[b'k'; 250]), Ok(()));
        assert_eq!(check("schlüssel-€".as_bytes()), Ok(()));
        assert_eq!(check(b"!~{}[]:/\\\"'"), Ok(()));
    }

    #[test]
    fn bad_keys() {
        assert_eq!(
            kind_and_message(b""),
            (Kind::BadKey, "key is empty".to_string())
        );
        let long = [b'x'; 251];
        assert_eq!(
            kind_and_message(&long),
            (
                Kind::BadKey,
                format!(
                    "key is 251 bytes long, the limit is 250: \"{}...\"",
                    "x".repeat(40)
                )
            )
        );
        assert_eq!(
            kind_and_message(b"a b"),
            (
                Kind::BadKey,
                "key \"a b\" contains a space at byte 1: keys may not contain whitespace or control characters".to_string()
            )
        );
        assert_eq!(
            kind_and_message(b"a\r\nset"),
            (
                Kind::BadKey,
                "key \"a\\x0d\\x0aset\" contains control character 0x0d at byte 1: keys may not contain whitespace or control characters".to_string()
            )
        );
        for bad in [0u8, b'\t', b'\n', 0x1f, 0x7f] {
            assert_eq!(check(&[b'a', bad]).unwrap_err().kind(), Kind::BadKey);
        }
    }

    #[test]
    fn binary_keys() {
        assert_eq!(check_binary(b"a b\n\0"), Ok(()));
        assert_eq!(check_binary(&[0xff; 186]), Ok(()));
        assert_eq!(check_binary(b"").unwrap_err().message(), "key is empty");
        let e = check_binary(&[b' '; 187]).unwrap_err();
        assert_eq!(e.kind(), Kind::BadKey);
        assert_eq!(
            e.message(),
            format!(
                "binary key \"{}...\" is 187 bytes long; in base64 that is 252 bytes, over memcached's 250: a key that is not a classic key may be at most 186 bytes",
                " ".repeat(40)
            )
        );
    }

    #[test]
    fn unique_keys_are_valid_and_distinct() {
        let a = unique().unwrap();
        let b = unique().unwrap();
        assert_eq!(a.len(), UNIQUE_LEN);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(check(a.as_bytes()), Ok(()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_word_check_agrees_with_the_byte_rule() {
        for len in 1..=19 {
            for at in 0..len {
                for b in 0..=255u8 {
                    // Neighbours that sit next to the edges of the rule.
                    for fill in [b'a', 0x21, 0x7e, 0x80, 0xff] {
                        let mut key = vec![fill; len];
                        key[at] = b;
                        assert_eq!(has_bad_byte(&key), bad(b), "{key:?}");
                    }
                }
            }
        }
    }
}
