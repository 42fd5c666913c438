//! The meta commands of the lease fetch and of invalidation (memcached
//! 1.6): `mg` with a lease (`N`) and early recache (`R`), `ms` with a CAS
//! condition, `md` marking an item stale (`I`). Their replies are the
//! parser's [`super::Reply::Meta`].

use super::request::put_u64;

/// "mg <key> v f c t N<lease>[ R<recache>]\r\n": the value, flags, CAS and
/// remaining TTL of `key`; on a miss the server creates an empty
/// placeholder living `lease` seconds and answers this request alone with
/// `W` (win: compute the value); with `recache` (seconds, > 0), the one
/// request that finds less than that left also gets `W`. Others get `Z`
/// while a win is outstanding, and `X` when the item is stale.
pub fn lease_get(buf: &mut Vec<u8>, key: &[u8], lease: u32, recache: u32) {
    buf.extend_from_slice(b"mg ");
    buf.extend_from_slice(key);
    buf.extend_from_slice(b" v f c t");
    token(buf, b'N', lease.into());
    if recache > 0 {
        token(buf, b'R', recache.into());
    }
    buf.extend_from_slice(b"\r\n");
}

/// "ms <key> <len> T<exptime> F<flags>[ C<cas>]\r\n": the head of a meta
/// set (the value and "\r\n" follow), conditional on the CAS value when
/// `cas` is given (HD stored, EX changed meanwhile, NF gone).
pub fn meta_set_head(
    buf: &mut Vec<u8>,
    key: &[u8],
    len: usize,
    exptime: u32,
    flags: u32,
    cas: Option<u64>,
) {
    buf.extend_from_slice(b"ms ");
    buf.extend_from_slice(key);
    buf.push(b' ');
    put_u64(buf, len as u64);
    token(buf, b'T', exptime.into());
    token(buf, b'F', flags.into());
    if let Some(cas) = cas {
        token(buf, b'C', cas);
    }
    buf.extend_from_slice(b"\r\n");
}

/// " <flag><n>": a meta flag with its number.
fn token(buf: &mut Vec<u8>, flag: u8, n: u64) {
    buf.push(b' ');
    buf.push(flag);
    put_u64(buf, n);
}

/// "md <key> I[ T<exptime>][ C<cas>]\r\n": marks the item stale instead of
/// deleting it (a lease get then hands the stale value to everyone and a
/// win to one), optionally with a new lifetime, optionally only while its
/// CAS value is `cas` (HD, NF when gone, EX when changed).
pub fn invalidate(buf: &mut Vec<u8>, key: &[u8], exptime: Option<u32>, cas: Option<u64>) {
    buf.extend_from_slice(b"md ");
    buf.extend_from_slice(key);
    buf.extend_from_slice(b" I");
    if let Some(exptime) = exptime {
        token(buf, b'T', exptime.into());
    }
    if let Some(cas) = cas {
        token(buf, b'C', cas);
    }
    buf.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut buf = b"keep".to_vec();
        f(&mut buf);
        buf
    }

    #[test]
    fn lease_get_asks_value_flags_cas_ttl_and_a_lease() {
        assert_eq!(
            encoded(|b| lease_get(b, b"page:1", 30, 0)),
            b"keepmg page:1 v f c t N30\r\n"
        );
        assert_eq!(
            encoded(|b| lease_get(b, b"k", 5, 10)),
            b"keepmg k v f c t N5 R10\r\n"
        );
    }

    #[test]
    fn meta_set_head_with_and_without_cas() {
        assert_eq!(
            encoded(|b| meta_set_head(b, b"k", 3, 60, 16, None)),
            b"keepms k 3 T60 F16\r\n"
        );
        assert_eq!(
            encoded(|b| meta_set_head(b, b"k", 0, 0, 0, Some(18446744073709551615))),
            b"keepms k 0 T0 F0 C18446744073709551615\r\n"
        );
    }

    #[test]
    fn invalidate_with_its_options() {
        assert_eq!(
            encoded(|b| invalidate(b, b"k", None, None)),
            b"keepmd k I\r\n"
        );
        assert_eq!(
            encoded(|b| invalidate(b, b"k", Some(30), Some(7))),
            b"keepmd k I T30 C7\r\n"
        );
    }
}
