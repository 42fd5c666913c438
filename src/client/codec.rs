//! Compressed values, by the handle's value format ([`Packing`]):
//! python-memcached's convention, which pylibmc and pymemcache follow too
//! ([`super::ValueFormat::Python`]: flag 8 is zlib data, flag 24 compressed
//! text), and PHP Memcached's ([`super::ValueFormat::Php`]: flag 16 is
//! compressed, 32 by zlib, 64 by fastlz, the data after a 4-byte length).
//! A compressed value is decompressed on every read path, and the caller
//! sees the value and its flags without the compression bits. A handle
//! with a compression threshold ([`super::Options::compress_min`]) stores
//! values at least that long compressed, when that makes them smaller.
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

/// The flag bit of a zlib-compressed value (python-memcached's).
pub const ZLIB_FLAG: u32 = 8;

/// PHP Memcached's flag bits: compressed, by zlib, by fastlz.
const PHP_COMPRESSED: u32 = 16;
const PHP_ZLIB: u32 = 32;
const PHP_FASTLZ: u32 = 64;

/// How a handle's values are compressed: the flag bits that say so and the
/// framing of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// Nothing is compressed or decompressed (the raw value format).
    None,
    /// python-memcached's: zlib data, flag 8.
    Python,
    /// PHP Memcached's: a 4-byte little-endian length, then zlib data;
    /// flags 16 and 32 (64: fastlz, which is refused on read).
    Php,
}

impl Packing {
    /// Whether a value stored with `flags` is compressed.
    pub fn packed(self, flags: u32) -> bool {
        match self {
            Packing::None => false,
            Packing::Python => flags & ZLIB_FLAG != 0,
            Packing::Php => flags & PHP_COMPRESSED != 0,
        }
    }

    /// The value and flags of compressed `data` stored with `flags`
    /// ([`Packing::packed`]): decompressed, without the compression bits.
    #[cold]
    #[inline(never)]
    pub fn unpack(self, data: &[u8], flags: u32) -> Result<(Vec<u8>, u32)> {
        match self {
            Packing::Php => Ok((php_inflate(data, flags)?, flags & !PHP_BITS)),
            _ => Ok((inflate(data)?, flags & !ZLIB_FLAG)),
        }
    }

    /// `value` compressed, and the flag bits that say so, when that makes
    /// it smaller.
    fn pack(self, value: &[u8]) -> Option<(Vec<u8>, u32)> {
        match self {
            Packing::None => None,
            Packing::Python => deflate(value).map(|data| (data, ZLIB_FLAG)),
            Packing::Php => {
                let len = u32::try_from(value.len()).ok()?;
                let packed = deflate(value)?;
                let mut data = Vec::with_capacity(4 + packed.len());
                data.extend_from_slice(&len.to_le_bytes());
                data.extend_from_slice(&packed);
                (data.len() < value.len()).then_some((data, PHP_COMPRESSED | PHP_ZLIB))
            }
        }
    }
}

/// Every compression bit of PHP's flags.
const PHP_BITS: u32 = PHP_COMPRESSED | PHP_ZLIB | PHP_FASTLZ;

/// The value of PHP-compressed `data` (flags 16 and 32; flag 16 alone,
/// as PHP Memcached 2 wrote, is zlib too): the length PHP wrote first must
/// be the length inflated.
fn php_inflate(data: &[u8], flags: u32) -> Result<Vec<u8>> {
    if flags & PHP_FASTLZ != 0 {
        return Err(Error::new(
            Kind::Protocol,
            "a value compressed with fastlz (PHP's flags 16 + 64) cannot be read here: \
             no well-kept fastlz crate exists; have PHP compress with zlib \
             (memcached.compression_type=zlib)",
        ));
    }
    let Some((len, packed)) = data.split_first_chunk::<4>() else {
        return Err(Error::new(
            Kind::Protocol,
            "a value flagged as compressed by PHP (flag 16) is shorter than its 4-byte length",
        ));
    };
    let value = inflate(packed)?;
    let announced = u32::from_le_bytes(*len) as usize;
    if value.len() != announced {
        return Err(Error::new(
            Kind::Protocol,
            format!(
                "a value compressed by PHP says {announced} bytes and inflates to {}",
                value.len()
            ),
        ));
    }
    Ok(value)
}

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
/// compressed where a threshold is in force, else as given, borrowed.
pub fn pack<'v>(
    options: &super::Options,
    verb: StoreVerb,
    value: &'v [u8],
    flags: u32,
) -> (Cow<'v, [u8]>, u32) {
    match options.compression() {
        None => (Cow::Borrowed(value), flags),
        Some(min) => encode(options.packing(), verb, value, flags, min),
    }
}

/// The data and flags to store for `value` with `flags` by `verb`, on a
/// handle that compresses with `packing` from `min` bytes
/// ([`super::Options::compression`]): compressed, with the flag bits that
/// say so, when it is at least `min` bytes and that makes it smaller, else
/// as given. Appended and prepended data is never compressed: two zlib
/// streams one after the other are not one.
pub fn encode(
    packing: Packing,
    verb: StoreVerb,
    value: &[u8],
    flags: u32,
    min: usize,
) -> (Cow<'_, [u8]>, u32) {
    let packable = !matches!(verb, StoreVerb::Append | StoreVerb::Prepend);
    let packed = (packable && value.len() >= min)
        .then(|| packing.pack(value))
        .flatten();
    match packed {
        Some((packed, bits)) => (Cow::Owned(packed), flags | bits),
        None => (Cow::Borrowed(value), flags),
    }
}

/// Where a value is read to: the caller's buffer, or, for a compressed
/// value, a `Vec` that is decompressed into the caller's buffer afterwards
/// ([`Landing::finish`]).
pub enum Landing<B> {
    Direct(B),
    Packed(VecBuf, Packing),
}

impl<B: ValueBuf> Landing<B> {
    /// The landing for a value of `size` bytes with `flags`, on a handle
    /// that compresses with `packing`.
    pub fn new(
        packing: Packing,
        size: usize,
        flags: u32,
        make: &mut impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Landing<B>> {
        if packing.packed(flags) {
            Ok(Landing::Packed(VecBuf::new(size), packing))
        } else {
            make(size, flags).map(Landing::Direct)
        }
    }

    /// The caller's buffer and the flags it gets (without the compression
    /// bits once decompressed).
    pub fn finish(
        self,
        flags: u32,
        make: &mut impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<(B, u32)> {
        match self {
            Landing::Direct(buf) => Ok((buf, flags)),
            Landing::Packed(packed, packing) => {
                let (value, flags) = packing.unpack(&packed.into_vec(), flags)?;
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
            Landing::Packed(buf, _) => buf.slots(),
        }
    }

    unsafe fn set_filled(&mut self) {
        // SAFETY: the caller's guarantee, passed on.
        unsafe {
            match self {
                Landing::Direct(buf) => buf.set_filled(),
                Landing::Packed(buf, _) => buf.set_filled(),
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
        let py = Packing::Python;
        let (data, flags) = encode(py, StoreVerb::Set, v, 16, 1000);
        assert_eq!((flags, inflate(&data).unwrap().as_slice()), (24, v));
        assert_eq!(
            encode(py, StoreVerb::Set, v, 16, 1001),
            (Cow::Borrowed(v), 16)
        );
        assert_eq!(
            encode(py, StoreVerb::Append, v, 0, 1),
            (Cow::Borrowed(v), 0)
        );
        assert_eq!(encode(py, StoreVerb::Cas(7), v, 0, 1).1, 8);
        // PHP's: the length first, flags 16 + 32, user flags kept.
        let (data, flags) = encode(Packing::Php, StoreVerb::Set, v, 1 << 16, 100);
        assert_eq!(flags, (1 << 16) | 48);
        assert_eq!(&data[..4], &1000u32.to_le_bytes());
        assert_eq!(
            Packing::Php.unpack(&data, flags).unwrap(),
            (v.to_vec(), 1 << 16)
        );
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
    fn php_values_that_cannot_be_read_are_errors_naming_why() {
        let php = Packing::Php;
        assert!(php.packed(16) && php.packed(48) && !php.packed(32) && !php.packed(1));
        let e = php.unpack(b"\x05\0\0\0xyz", 16 | 64).unwrap_err();
        assert_eq!(e.kind(), Kind::Protocol);
        assert!(e
            .message()
            .starts_with("a value compressed with fastlz (PHP's flags 16 + 64)"));
        let e = php.unpack(b"\x05\0", 48).unwrap_err();
        assert_eq!(
            e.message(),
            "a value flagged as compressed by PHP (flag 16) is shorter than its 4-byte length"
        );
        let mut lying = 7u32.to_le_bytes().to_vec();
        lying.extend(deflate(&[b'a'; 100]).unwrap());
        let e = php.unpack(&lying, 48).unwrap_err();
        assert_eq!(
            e.message(),
            "a value compressed by PHP says 7 bytes and inflates to 100"
        );
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
