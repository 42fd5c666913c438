//! The meta commands (memcached 1.6): `mg`, `ms`, `md`, `ma`, `mn`. They
//! carry what the classic commands cannot: a key of any bytes (base64 with
//! the `b` flag), a lease (`N`) and early recache (`R`) for the fetch,
//! items marked stale (`md ... I`), and a quiet mode (`q`) in which a
//! pipeline's successes send nothing back, its end marked by `mn`. Their
//! replies are the parser's [`super::Reply::Meta`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::request::put_u64;
use super::StoreVerb;

/// A key as a meta command carries it: as it is, or (`binary`) in base64
/// followed by the `b` flag, so any bytes can name an item. The caller
/// decides which (a valid classic key goes as it is, so that clients of
/// the classic commands name the same item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaKey<'a> {
    pub bytes: &'a [u8],
    pub binary: bool,
}

impl<'a> MetaKey<'a> {
    /// A key sent as it is.
    pub fn plain(bytes: &'a [u8]) -> MetaKey<'a> {
        MetaKey {
            bytes,
            binary: false,
        }
    }
}

/// The length of `n` bytes in base64 (padded).
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Writes `<verb> <key>[ b]`: the command and its key, base64 with the
/// `b` flag when binary.
fn head(buf: &mut Vec<u8>, verb: &[u8], key: MetaKey<'_>) {
    put_key(buf, verb, key);
    if key.binary {
        buf.extend_from_slice(b" b");
    }
}

/// Writes `<verb> <key>`, the key base64 when binary (its `b` flag is the
/// caller's to write, after any positional token).
fn put_key(buf: &mut Vec<u8>, verb: &[u8], key: MetaKey<'_>) {
    buf.extend_from_slice(verb);
    if key.binary {
        let start = buf.len();
        buf.resize(start + base64_len(key.bytes.len()), 0);
        let written = STANDARD
            .encode_slice(key.bytes, &mut buf[start..])
            .unwrap_or(0);
        buf.truncate(start + written);
    } else {
        buf.extend_from_slice(key.bytes);
    }
}

/// ` <flag><n>`: a meta flag with its number.
fn token(buf: &mut Vec<u8>, flag: u8, n: u64) {
    buf.push(b' ');
    buf.push(flag);
    put_u64(buf, n);
}

/// Quiet mode with an opaque number to match the reply to the request:
/// ` q O<n>` (`None`: neither, every reply comes back).
fn quiet(buf: &mut Vec<u8>, opaque: Option<usize>) {
    if let Some(n) = opaque {
        buf.extend_from_slice(b" q");
        token(buf, b'O', n as u64);
    }
}

/// Meta get: `mg <key>[ <flag>...]\r\n`, flags given as tokens such as
/// b"t", b"v", b"f", b"c", b"s".
pub fn meta_get(buf: &mut Vec<u8>, key: MetaKey<'_>, flags: &[&[u8]]) {
    head(buf, b"mg ", key);
    for flag in flags {
        buf.push(b' ');
        buf.extend_from_slice(flag);
    }
    buf.extend_from_slice(b"\r\n");
}

/// `mg <key> v f c[ T<exptime>][ q O<opaque>]\r\n`: the value, flags and
/// CAS value (a `gets`), giving the item a new lifetime when `touch` is
/// given (a `gats`). Answered `VA <size> f<flags> c<cas>` and the data, or
/// "EN" (not sent in quiet mode).
pub fn meta_value(buf: &mut Vec<u8>, key: MetaKey<'_>, touch: Option<u32>, opaque: Option<usize>) {
    head(buf, b"mg ", key);
    buf.extend_from_slice(b" v f c");
    if let Some(exptime) = touch {
        token(buf, b'T', exptime.into());
    }
    quiet(buf, opaque);
    buf.extend_from_slice(b"\r\n");
}

/// `mg <key> T<exptime>\r\n`: a `touch` (HD, or EN without an item).
pub fn meta_touch(buf: &mut Vec<u8>, key: MetaKey<'_>, exptime: u32) {
    head(buf, b"mg ", key);
    token(buf, b'T', exptime.into());
    buf.extend_from_slice(b"\r\n");
}

/// `mg <key> v f c t N<lease>[ R<recache>]\r\n`: the value, flags, CAS and
/// remaining TTL of `key`; on a miss the server creates an empty
/// placeholder living `lease` seconds and answers this request alone with
/// `W` (win: compute the value); with `recache` (seconds, > 0), the one
/// request that finds less than that left also gets `W`. Others get `Z`
/// while a win is outstanding, and `X` when the item is stale.
pub fn lease_get(buf: &mut Vec<u8>, key: MetaKey<'_>, lease: u32, recache: u32) {
    head(buf, b"mg ", key);
    buf.extend_from_slice(b" v f c t");
    token(buf, b'N', lease.into());
    if recache > 0 {
        token(buf, b'R', recache.into());
    }
    buf.extend_from_slice(b"\r\n");
}

/// `ms <key> <len> T<exptime> F<flags>[ M<mode>][ C<cas>][ q O<opaque>]\r\n`:
/// the head of a meta set (the value and "\r\n" follow), in the mode of
/// `verb` (add E, replace R, append A, prepend P; set is the default) and
/// conditional on the CAS value for [`StoreVerb::Cas`]. Answered HD
/// (stored; not sent in quiet mode), NS (not stored), EX (changed
/// meanwhile), NF (gone).
pub fn meta_store_head(
    buf: &mut Vec<u8>,
    verb: StoreVerb,
    key: MetaKey<'_>,
    len: usize,
    exptime: u32,
    flags: u32,
    opaque: Option<usize>,
) {
    // The data length is positional: right after the key, before flags.
    put_key(buf, b"ms ", key);
    buf.push(b' ');
    put_u64(buf, len as u64);
    if key.binary {
        buf.extend_from_slice(b" b");
    }
    token(buf, b'T', exptime.into());
    token(buf, b'F', flags.into());
    match verb {
        StoreVerb::Set => {}
        StoreVerb::Add => buf.extend_from_slice(b" ME"),
        StoreVerb::Replace => buf.extend_from_slice(b" MR"),
        StoreVerb::Append => buf.extend_from_slice(b" MA"),
        StoreVerb::Prepend => buf.extend_from_slice(b" MP"),
        StoreVerb::Cas(cas) => token(buf, b'C', cas),
    }
    quiet(buf, opaque);
    buf.extend_from_slice(b"\r\n");
}

/// How a meta delete treats the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetaDelete {
    /// `I`: mark the item stale instead of deleting it (a lease get then
    /// hands the stale value to everyone and a win to one).
    pub invalidate: bool,
    /// `T`: with `invalidate`, the stale item's new lifetime.
    pub exptime: Option<u32>,
    /// `C`: only while the item's CAS value is this.
    pub cas: Option<u64>,
    /// Quiet mode with this opaque number (see [`meta_value`]).
    pub opaque: Option<usize>,
}

/// `md <key>[ I][ T<exptime>][ C<cas>][ q O<opaque>]\r\n`: answered HD
/// (done; not sent in quiet mode), NF (no item), EX (CAS changed).
pub fn meta_delete(buf: &mut Vec<u8>, key: MetaKey<'_>, how: MetaDelete) {
    head(buf, b"md ", key);
    if how.invalidate {
        buf.extend_from_slice(b" I");
        if let Some(exptime) = how.exptime {
            token(buf, b'T', exptime.into());
        }
    }
    if let Some(cas) = how.cas {
        token(buf, b'C', cas);
    }
    quiet(buf, how.opaque);
    buf.extend_from_slice(b"\r\n");
}

/// `ma <key> v D<delta>[ MD]\r\n`: `incr` (or `decr` when `decrement`),
/// answered `VA <len>` and the new number, or NF.
pub fn meta_arith(buf: &mut Vec<u8>, key: MetaKey<'_>, decrement: bool, delta: u64) {
    head(buf, b"ma ", key);
    buf.extend_from_slice(b" v");
    token(buf, b'D', delta);
    if decrement {
        buf.extend_from_slice(b" MD");
    }
    buf.extend_from_slice(b"\r\n");
}

/// "mn\r\n": answered "MN" after every reply before it, the end of a
/// quiet pipeline.
pub fn meta_noop(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"mn\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut buf = b"keep".to_vec();
        f(&mut buf);
        buf
    }

    const K: MetaKey<'static> = MetaKey {
        bytes: b"k",
        binary: false,
    };

    fn binary(bytes: &[u8]) -> MetaKey<'_> {
        MetaKey {
            bytes,
            binary: true,
        }
    }

    #[test]
    fn binary_keys_go_base64_with_the_b_flag() {
        assert_eq!(
            encoded(|b| meta_get(b, binary(b"a key\n"), &[b"v"])),
            b"keepmg YSBrZXkK b v\r\n"
        );
        assert_eq!(
            encoded(|b| meta_get(b, binary(&[0, 255]), &[])),
            b"keepmg AP8= b\r\n"
        );
        assert_eq!(base64_len(186), 248);
        assert_eq!(base64_len(187), 252);
        assert_eq!(base64_len(0), 0);
    }

    #[test]
    fn a_binary_store_puts_its_b_flag_after_the_length() {
        assert_eq!(
            encoded(|b| meta_store_head(b, StoreVerb::Add, binary(b"a b"), 2, 0, 3, None)),
            b"keepms YSBi 2 b T0 F3 ME\r\n"
        );
    }

    #[test]
    fn value_gets_with_touch_and_quiet_mode() {
        assert_eq!(
            encoded(|b| meta_value(b, K, None, None)),
            b"keepmg k v f c\r\n"
        );
        assert_eq!(
            encoded(|b| meta_value(b, binary(b" "), Some(30), Some(7))),
            b"keepmg IA== b v f c T30 q O7\r\n"
        );
        assert_eq!(encoded(|b| meta_touch(b, K, 9)), b"keepmg k T9\r\n");
    }

    #[test]
    fn lease_get_asks_value_flags_cas_ttl_and_a_lease() {
        assert_eq!(
            encoded(|b| lease_get(b, MetaKey::plain(b"page:1"), 30, 0)),
            b"keepmg page:1 v f c t N30\r\n"
        );
        assert_eq!(
            encoded(|b| lease_get(b, K, 5, 10)),
            b"keepmg k v f c t N5 R10\r\n"
        );
    }

    #[test]
    fn store_heads_in_every_mode() {
        let head = |verb, opaque| encoded(|b| meta_store_head(b, verb, K, 3, 60, 16, opaque));
        assert_eq!(head(StoreVerb::Set, None), b"keepms k 3 T60 F16\r\n");
        assert_eq!(head(StoreVerb::Add, None), b"keepms k 3 T60 F16 ME\r\n");
        assert_eq!(head(StoreVerb::Replace, None), b"keepms k 3 T60 F16 MR\r\n");
        assert_eq!(head(StoreVerb::Append, None), b"keepms k 3 T60 F16 MA\r\n");
        assert_eq!(head(StoreVerb::Prepend, None), b"keepms k 3 T60 F16 MP\r\n");
        assert_eq!(
            head(StoreVerb::Cas(18446744073709551615), Some(0)),
            b"keepms k 3 T60 F16 C18446744073709551615 q O0\r\n"
        );
    }

    #[test]
    fn deletes_invalidations_arithmetic_and_noop() {
        let md = |how| encoded(|b| meta_delete(b, K, how));
        assert_eq!(md(MetaDelete::default()), b"keepmd k\r\n");
        assert_eq!(
            md(MetaDelete {
                invalidate: true,
                exptime: Some(30),
                cas: Some(7),
                opaque: None,
            }),
            b"keepmd k I T30 C7\r\n"
        );
        assert_eq!(
            md(MetaDelete {
                cas: Some(5),
                opaque: Some(12),
                ..MetaDelete::default()
            }),
            b"keepmd k C5 q O12\r\n"
        );
        assert_eq!(
            encoded(|b| meta_arith(b, K, false, 1)),
            b"keepma k v D1\r\n"
        );
        assert_eq!(
            encoded(|b| meta_arith(b, binary(b"\x00"), true, 18446744073709551615)),
            b"keepma AA== b v D18446744073709551615 MD\r\n"
        );
        assert_eq!(encoded(meta_noop), b"keepmn\r\n");
    }
}
