//! Compressed values: python-memcached's convention, which pylibmc and
//! pymemcache follow too, for handles whose value format is
//! [`super::ValueFormat::Python`]. A value stored with flag 8 is zlib data
//! (flag 24: compressed text); it is decompressed on every read path, and
//! the caller sees the value and its flags without the 8. A handle with a
//! compression threshold ([`super::Options::compress_min`]) stores values
//! at least that long compressed with flag 8, when that makes them smaller.
//!
//! A server's data never decides how much memory is allocated: a value
//! that expands past [`MAX_INFLATED`] is an error, not a 4 GiB allocation.

use std::borrow::Cow;
use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use crate::error::{Error, Kind, Result};
use crate::net::{ValueBuf, VecBuf};
use crate::protocol::StoreVerb;

/// The flag bit of a zlib-compressed value.
pub const ZLIB_FLAG: u32 = 8;

/// The most a compressed value may expand to: 128 MiB, far above any value
/// a memcached stores by default (1 MiB items) or a client compresses.
pub const MAX_INFLATED: usize = 128 << 20;

/// The value of a compressed item, decompressed. Cold: compressed values
/// are the exception, and the multi-get's hit loop stays as small as
/// without compression.
#[cold]
#[inline(never)]
pub fn inflate(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(1 << 20));
    let read = ZlibDecoder::new(data)
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut out);
    match read {
        Err(e) => Err(Error::new(
            Kind::Protocol,
            format!("a value flagged as compressed (flag 8) is not zlib data: {e}"),
        )),
        Ok(n) if n > MAX_INFLATED => Err(Error::new(
            Kind::TooLarge,
            format!(
                "a compressed value (flag 8) expands past {} MiB: not decompressed",
                MAX_INFLATED >> 20
            ),
        )),
        Ok(_) => Ok(out),
    }
}

/// `value` compressed with zlib, when that makes it smaller.
pub fn deflate(value: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(value.len() / 2), Compression::default());
    encoder.write_all(value).ok()?;
    let packed = encoder.finish().ok()?;
    (packed.len() < value.len()).then_some(packed)
}

/// `value` and `flags` as a store with `verb` sends them under `options`:
/// compressed where a threshold is in force (the python format), else as
/// given, borrowed.
pub fn pack<'v>(
    options: &super::Options,
    verb: StoreVerb,
    value: &'v [u8],
    flags: u32,
) -> (Cow<'v, [u8]>, u32) {
    match options.compression() {
        None => (Cow::Borrowed(value), flags),
        Some(min) => encode(verb, value, flags, min),
    }
}

/// The data and flags to store for `value` with `flags` by `verb`, on a
/// handle whose threshold in force is `min` ([`super::Options::compression`]):
/// compressed with [`ZLIB_FLAG`] added when it is at least `min` bytes and
/// that makes it smaller, else as given. Appended and prepended data is
/// never compressed: two zlib streams one after the other are not one.
pub fn encode(verb: StoreVerb, value: &[u8], flags: u32, min: usize) -> (Cow<'_, [u8]>, u32) {
    let packable = !matches!(verb, StoreVerb::Append | StoreVerb::Prepend);
    let packed = (packable && value.len() >= min)
        .then(|| deflate(value))
        .flatten();
    match packed {
        Some(packed) => (Cow::Owned(packed), flags | ZLIB_FLAG),
        None => (Cow::Borrowed(value), flags),
    }
}

/// Where a value is read to: the caller's buffer, or, for a compressed
/// value, a `Vec` that is decompressed into the caller's buffer afterwards
/// ([`Landing::finish`]).
pub enum Landing<B> {
    Direct(B),
    Zlib(VecBuf),
}

impl<B: ValueBuf> Landing<B> {
    /// The landing for a value of `size` bytes with `flags`, on a handle
    /// whose flag 8 means zlib.
    pub fn new(
        size: usize,
        flags: u32,
        make: &mut impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Landing<B>> {
        if flags & ZLIB_FLAG != 0 {
            Ok(Landing::Zlib(VecBuf::new(size)))
        } else {
            make(size, flags).map(Landing::Direct)
        }
    }

    /// The caller's buffer and the flags it gets (without [`ZLIB_FLAG`]
    /// once decompressed).
    pub fn finish(
        self,
        flags: u32,
        make: &mut impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<(B, u32)> {
        match self {
            Landing::Direct(buf) => Ok((buf, flags)),
            Landing::Zlib(packed) => {
                let value = inflate(&packed.into_vec())?;
                let flags = flags & !ZLIB_FLAG;
                let mut buf = make(value.len(), flags)?;
                for (slot, &byte) in buf.slots().iter_mut().zip(&value) {
                    slot.write(byte);
                }
                // SAFETY: `make` gave exactly `value.len()` slots, each
                // written just above.
                unsafe { buf.set_filled() };
                Ok((buf, flags))
            }
        }
    }
}

impl<B: ValueBuf> ValueBuf for Landing<B> {
    fn slots(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        match self {
            Landing::Direct(buf) => buf.slots(),
            Landing::Zlib(buf) => buf.slots(),
        }
    }

    unsafe fn set_filled(&mut self) {
        // SAFETY: the caller's guarantee, passed on.
        unsafe {
            match self {
                Landing::Direct(buf) => buf.set_filled(),
                Landing::Zlib(buf) => buf.set_filled(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Options, ValueFormat};
    use super::*;

    #[test]
    fn round_trip_and_only_when_smaller() {
        let text = "hello memcache ".repeat(100);
        let packed = deflate(text.as_bytes()).expect("compressible");
        assert!(packed.len() < text.len());
        assert_eq!(&packed[..2], &[0x78, 0x9c]);
        assert_eq!(inflate(&packed).unwrap(), text.as_bytes());
        assert_eq!(deflate(b"abc"), None);
    }

    #[test]
    fn encode_by_threshold_and_verb() {
        let text = "x".repeat(1000);
        let v = text.as_bytes();
        let (data, flags) = encode(StoreVerb::Set, v, 16, 1000);
        assert_eq!((flags, inflate(&data).unwrap().as_slice()), (24, v));
        assert_eq!(encode(StoreVerb::Set, v, 16, 1001), (Cow::Borrowed(v), 16));
        assert_eq!(encode(StoreVerb::Append, v, 0, 1), (Cow::Borrowed(v), 0));
        assert_eq!(encode(StoreVerb::Cas(7), v, 0, 1).1, 8);
        // No threshold in force (none set, or the raw format): nothing is
        // encoded, the value is stored as given.
        let python = Options {
            value_format: ValueFormat::Python,
            ..Options::default()
        };
        assert_eq!(python.compression(), None);
        let raw = Options {
            compress_min: Some(1),
            ..Options::default()
        };
        assert_eq!(raw.compression(), None);
        let on = Options {
            compress_min: Some(1),
            ..python
        };
        assert_eq!(on.compression(), Some(1));
    }

    #[test]
    fn a_bomb_and_garbage_are_errors() {
        let zeros = vec![0u8; MAX_INFLATED + 1];
        let bomb = deflate(&zeros).unwrap();
        let e = inflate(&bomb).unwrap_err();
        assert_eq!(e.kind(), Kind::TooLarge);
        assert_eq!(
            e.message(),
            "a compressed value (flag 8) expands past 128 MiB: not decompressed"
        );
        let e = inflate(b"not zlib").unwrap_err();
        assert_eq!(e.kind(), Kind::Protocol);
        assert!(
            e.message()
                .starts_with("a value flagged as compressed (flag 8) is not zlib data: "),
            "{}",
            e.message()
        );
    }
}
