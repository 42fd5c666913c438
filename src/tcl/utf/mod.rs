//! Conversions between real UTF-8 (what goes on the wire) and the string
//! form Tcl keeps in `Tcl_Obj.bytes` ("modified UTF-8").
//!
//! Tcl 9 differs from UTF-8 only in the first way below (its `TCL_UTF_MAX`
//! is 4: a character above U+FFFF is its 4-byte sequence), so the one
//! conversion that makes Tcl strings takes the running Tcl's [`Abi`].
//!
//! Tcl 8.6 (built here with `TCL_UTF_MAX` = 3) differs from UTF-8 in two
//! ways:
//!
//! - U+0000 is stored as the two bytes `C0 80`, so a string never contains a
//!   0 byte;
//! - a character above U+FFFF is stored as a UTF-16 surrogate pair, each half
//!   in 3-byte form (`U+1F600` is `ED A0 BD ED B8 80`, not `F0 9F 98 80`).
//!
//! The two functions here do exactly what Tcl's own `encoding convertfrom
//! utf-8` and `encoding convertto utf-8` do in Tcl 8.6.13, including for
//! malformed input, so a value stored by this library is byte-for-byte what
//! a Tcl script would get from `encoding convertto utf-8`, and any Tcl string
//! survives `tcl_to_utf8` followed by `utf8_to_tcl` unchanged. That
//! lenient handling of bad input is Tcl's:
//!
//! - a byte that does not start a well-formed sequence (a stray continuation
//!   byte, a truncated or overlong sequence, a lead byte `F5`..`FF`, a
//!   sequence above U+10FFFF) stands for the character with that byte's
//!   value, U+0080..U+00FF, and decoding resumes at the next byte;
//! - `C0 80` is read as U+0000 in both directions;
//! - an unpaired surrogate (`ED A0 80`..`ED BF BF`) is an ordinary
//!   3-byte character: kept in Tcl's form, and written out as the same three
//!   bytes (as Tcl does; real UTF-8 has no way to carry it), while a
//!   high-low pair becomes one 4-byte sequence.
//!
//! Two Tcl 8.6.13 quirks on malformed input are deliberately not copied:
//! at the very end of the input, a 4-byte lead byte with only two
//! continuation bytes (Tcl reads past the end there, and its answer depends
//! on memory contents), and three continuation bytes with matching bits
//! after an unpaired high surrogate (Tcl reads them as its low half). Both
//! are stray bytes here. The test `matches_tclsh` compares both
//! functions with the installed `tclsh` on random input.
//!
//! Both functions borrow their input when it needs no change (plain ASCII
//! without NUL, and most BMP text).

use std::borrow::Cow;

use super::stubs::Abi;

/// One character read from a byte string by Tcl 8.6's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Char {
    /// A well-formed sequence of `len` bytes for code point `cp` (any value
    /// up to U+10FFFF, surrogates included; `C0 80` gives 0).
    Seq { cp: u32, len: usize },
    /// A byte that starts no well-formed sequence; it stands for U+00xx.
    Stray(u8),
}

fn is_cont(b: Option<&u8>) -> bool {
    matches!(b, Some(b) if b & 0xC0 == 0x80)
}

/// Reads the character at the start of `s` (which must not be empty).
fn next_char(s: &[u8]) -> Char {
    let b0 = s[0];
    let stray = Char::Stray(b0);
    match b0 {
        0x00..=0x7F => Char::Seq {
            cp: u32::from(b0),
            len: 1,
        },
        0xC0..=0xDF if is_cont(s.get(1)) => {
            let cp = (u32::from(b0 & 0x1F) << 6) | u32::from(s[1] & 0x3F);
            // Overlong forms are refused, except C0 80 for U+0000.
            if cp == 0 || cp >= 0x80 {
                Char::Seq { cp, len: 2 }
            } else {
                stray
            }
        }
        0xE0..=0xEF if is_cont(s.get(1)) && is_cont(s.get(2)) => {
            let cp = (u32::from(b0 & 0x0F) << 12)
                | (u32::from(s[1] & 0x3F) << 6)
                | u32::from(s[2] & 0x3F);
            if cp >= 0x800 {
                Char::Seq { cp, len: 3 }
            } else {
                stray
            }
        }
        0xF0..=0xF7 if is_cont(s.get(1)) && is_cont(s.get(2)) && is_cont(s.get(3)) => {
            let cp = (u32::from(b0 & 0x07) << 18)
                | (u32::from(s[1] & 0x3F) << 12)
                | (u32::from(s[2] & 0x3F) << 6)
                | u32::from(s[3] & 0x3F);
            if (0x1_0000..=0x10_FFFF).contains(&cp) {
                Char::Seq { cp, len: 4 }
            } else {
                stray
            }
        }
        _ => stray,
    }
}

fn is_high_surrogate(cp: u32) -> bool {
    (0xD800..0xDC00).contains(&cp)
}

fn is_low_surrogate(cp: u32) -> bool {
    (0xDC00..0xE000).contains(&cp)
}

/// The replacement bytes for one character (at most two 3-byte halves).
struct Repl {
    buf: [u8; 6],
    len: usize,
}

impl Repl {
    fn new() -> Repl {
        Repl {
            buf: [0; 6],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends `cp` (at most U+FFFF) in its 1-, 2- or 3-byte form;
    /// surrogates are encoded like any other BMP value.
    fn push_bmp(&mut self, cp: u32) {
        debug_assert!(cp <= 0xFFFF);
        if cp < 0x80 {
            self.push(&[cp as u8]);
        } else if cp < 0x800 {
            self.push(&[0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8]);
        } else {
            self.push(&[
                0xE0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3F) as u8,
                0x80 | (cp & 0x3F) as u8,
            ]);
        }
    }

    /// Appends a supplementary character (U+10000..U+10FFFF) in real UTF-8.
    fn push_utf8_4(&mut self, cp: u32) {
        self.push(&[
            0xF0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3F) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]);
    }

    fn of_bmp(cp: u32) -> Repl {
        let mut r = Repl::new();
        r.push_bmp(cp);
        r
    }
}

/// The length of the run of plain ASCII bytes (1..=0x7F, the same in both
/// forms) that `input` starts with, checked eight bytes at a time: most
/// text is all plain, and then a conversion or a check is one quick pass.
/// From 32 bytes, where the CPU has AVX2, an input that is all plain is
/// recognised first 32 bytes a compare (callgrind, a 100-byte value: 25
/// instructions instead of 65; for Tcl's `get`, each hit of `mget`, and a
/// `put`); one that is not is then scanned as below. Inlined: as a call
/// it cost each value about 20 instructions more (callgrind, Tcl `get`).
#[inline]
fn plain_prefix(input: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if input.len() >= 32
        && std::arch::is_x86_feature_detected!("avx2")
        // SAFETY: the CPU has AVX2 and there are 32 bytes (checked above).
        && unsafe { all_plain_avx2(input) }
    {
        return input.len();
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let (words, _) = input.as_chunks::<8>();
    let mut n = 0;
    for word in words {
        let x = u64::from_le_bytes(*word);
        // a byte with its high bit set, or a zero byte
        if (x | (x.wrapping_sub(ONES) & !x)) & HIGHS != 0 {
            break;
        }
        n += 8;
    }
    n + input[n..]
        .iter()
        .take_while(|&&b| matches!(b, 1..=0x7F))
        .count()
}

/// Runs `step` over the characters of `input` that are not plain ASCII
/// (1..=0x7F, unchanged by both conversions); `step` returns `None` when
/// the character's bytes are kept, or the number of bytes it replaces and
/// their replacement. Nothing is allocated until the first replacement;
/// kept runs are copied in bulk.
fn convert<'a>(
    input: &'a [u8],
    step: impl Fn(&[u8], Char) -> Option<(usize, Repl)>,
) -> Cow<'a, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // input[copied..i] is still to be copied to `out`
    let mut i = plain_prefix(input);
    while i < input.len() {
        if matches!(input[i], 1..=0x7F) {
            i += 1;
            continue;
        }
        let rest = &input[i..];
        let ch = next_char(rest);
        match step(rest, ch) {
            None => {
                i += match ch {
                    Char::Seq { len, .. } => len,
                    Char::Stray(_) => 1,
                }
            }
            Some((used, repl)) => {
                let out = out
                    .get_or_insert_with(|| Vec::with_capacity(input.len() + input.len() / 2 + 8));
                out.extend_from_slice(&input[copied..i]);
                out.extend_from_slice(&repl.buf[..repl.len]);
                i += used;
                copied = i;
            }
        }
    }
    match out {
        Some(mut v) => {
            v.extend_from_slice(&input[copied..]);
            Cow::Owned(v)
        }
        None => Cow::Borrowed(input),
    }
}

/// Is `bytes` text as [`tcl_to_utf8`] writes it: UTF-8, where an unpaired
/// surrogate (which a Tcl string may hold, and which Tcl writes as its
/// three bytes) counts as a character? Then [`utf8_to_tcl`] gives the Tcl
/// string back exactly.
pub fn is_text(bytes: &[u8]) -> bool {
    if valid_utf8(bytes) {
        return true;
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        match next_char(rest) {
            // C0 80 is Tcl's internal NUL, never written out.
            Char::Seq { cp: 0, len: 2 } | Char::Stray(_) => return false,
            Char::Seq { len, .. } => rest = &rest[len..],
        }
    }
    true
}

/// Real UTF-8 (possibly malformed) to Tcl's internal form, exactly as Tcl
/// 8.6's `encoding convertfrom utf-8`. Tcl 9 (`abi`) keeps a character
/// above U+FFFF as its 4-byte UTF-8, where 8.6 wants a surrogate pair.
pub fn utf8_to_tcl(input: &[u8], abi: Abi) -> Cow<'_, [u8]> {
    convert(input, |_, ch| match ch {
        Char::Seq { len: 4, .. } if abi == Abi::Tcl9 => None,
        Char::Seq { cp: 0, len: 1 } => {
            let mut r = Repl::new();
            r.push(&[0xC0, 0x80]);
            Some((1, r))
        }
        Char::Seq { cp, len: 4 } => {
            let v = cp - 0x1_0000;
            let mut r = Repl::of_bmp(0xD800 | (v >> 10));
            r.push_bmp(0xDC00 | (v & 0x3FF));
            Some((4, r))
        }
        Char::Seq { .. } => None,
        Char::Stray(b) => Some((1, Repl::of_bmp(u32::from(b)))),
    })
}

/// Text read from storage in Tcl's internal form, or `None` when it is not
/// text ([`is_text`]): [`utf8_to_tcl`] of valid text, faster. Most text is
/// valid UTF-8 that Tcl keeps as it is (no NUL; in Tcl 8.6, nothing above
/// U+FFFF), so that case is checked in two quick passes and borrowed.
pub fn text_to_tcl(bytes: &[u8], abi: Abi) -> Option<Cow<'_, [u8]>> {
    // Plain ASCII (the most common value): one pass instead of the two
    // below (callgrind, a 100-byte value: 25 instructions instead of 370).
    if plain_prefix(bytes) == bytes.len() {
        return Some(Cow::Borrowed(bytes));
    }
    if valid_utf8(bytes) {
        if !needs_change(bytes, abi) {
            return Some(Cow::Borrowed(bytes));
        }
    } else if !is_text(bytes) {
        return None;
    }
    Some(utf8_to_tcl(bytes, abi))
}

/// Whether all of `bytes` is plain ASCII, 32 bytes a compare: as signed
/// bytes, 1..=0x7F are those above 0. The last block overlaps the one
/// before it instead of a loop over the rest. A `while` loop: `step_by`
/// cost 6 instructions a 100-byte value more (callgrind, Tcl get).
///
/// # Safety
/// The CPU must have AVX2, and `bytes` at least 32 bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn all_plain_avx2(bytes: &[u8]) -> bool {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_setzero_si256,
    };
    let plain = |at: usize| {
        // SAFETY: `at + 32 <= bytes.len()` at both calls below (the
        // contract: at least 32 bytes); an unaligned load.
        let block = unsafe { _mm256_loadu_si256(bytes.as_ptr().add(at).cast::<__m256i>()) };
        _mm256_movemask_epi8(_mm256_cmpgt_epi8(block, _mm256_setzero_si256())) == -1
    };
    let last = bytes.len() - 32;
    let mut at = 0;
    while at < last {
        if !plain(at) {
            return false;
        }
        at += 32;
    }
    plain(last)
}

/// Whether `bytes` is UTF-8: simdutf8's check, which reads 32 or 64 bytes
/// a step where the CPU has the instructions (AVX2, SSE4.2); `std`'s took
/// 8 instructions a byte on text with some non-ASCII in it (callgrind, a
/// 512 KiB value: 4.5 M instructions per get against 33 k for the same
/// size of binary data).
fn valid_utf8(bytes: &[u8]) -> bool {
    simdutf8::basic::from_utf8(bytes).is_ok()
}

/// Whether valid UTF-8 has a byte Tcl stores differently: NUL, or (Tcl
/// 8.6) the lead byte of a 4-byte sequence. Tcl 9 needs only memchr's
/// search; for 8.6, [`nul_or_lead4`], with 32-byte vector compares where
/// the CPU has AVX2 (a third of the instructions of the SSE2 baseline).
fn needs_change(utf8: &[u8], abi: Abi) -> bool {
    match abi {
        Abi::Tcl9 => memchr::memchr(0, utf8).is_some(),
        #[cfg(target_arch = "x86_64")]
        Abi::Tcl8 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { nul_or_lead4_avx2(utf8) }
        }
        Abi::Tcl8 => nul_or_lead4(utf8),
    }
}

/// [`nul_or_lead4`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn nul_or_lead4_avx2(utf8: &[u8]) -> bool {
    nul_or_lead4(utf8)
}

/// Whether `utf8` has a 0 byte or a byte from 0xF0: tested 32 bytes at a
/// time without branches inside a block, which the compiler turns into
/// vector compares.
#[inline(always)]
fn nul_or_lead4(utf8: &[u8]) -> bool {
    #[inline(always)]
    fn hit(b: u8) -> u8 {
        u8::from(b == 0) | u8::from(b >= 0xF0)
    }
    let (blocks, rest) = utf8.as_chunks::<32>();
    let mut found = 0;
    for &b in rest {
        found |= hit(b);
    }
    for block in blocks {
        let mut acc = 0;
        for &b in block {
            acc |= hit(b);
        }
        found |= acc;
        if found != 0 {
            break;
        }
    }
    found != 0
}

/// A Rust string to Tcl's internal form (the infallible case of
/// [`utf8_to_tcl`]).
pub fn str_to_tcl(s: &str, abi: Abi) -> Cow<'_, [u8]> {
    utf8_to_tcl(s.as_bytes(), abi)
}

/// Tcl's internal form (any bytes) to real UTF-8, exactly as Tcl 8.6's
/// `encoding convertto utf-8`: `C0 80` becomes 0, surrogate pairs become one
/// 4-byte sequence, stray bytes become the UTF-8 of U+0080..U+00FF.
///
/// Tcl 9 (`abi`) keeps a character above U+FFFF as its 4-byte UTF-8, and a
/// surrogate there is a character of its own (`"\ud83d\ude00"` is two of
/// them): each is written as its three bytes, as Tcl 9's `encoding
/// convertto -profile tcl8 utf-8` does (its default profile refuses them),
/// so that the string reads back exactly.
pub fn tcl_to_utf8(input: &[u8], abi: Abi) -> Cow<'_, [u8]> {
    convert(input, |rest, ch| match ch {
        Char::Seq { cp: 0, len: 2 } => Some((2, Repl::of_bmp(0))),
        Char::Seq { cp, len: 3 }
            if abi == Abi::Tcl8 && is_high_surrogate(cp) && rest.len() >= 6 =>
        {
            match next_char(&rest[3..]) {
                Char::Seq { cp: low, len: 3 } if is_low_surrogate(low) => {
                    let mut r = Repl::new();
                    r.push_utf8_4(0x1_0000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
                    Some((6, r))
                }
                _ => None,
            }
        }
        Char::Seq { .. } => None,
        Char::Stray(b) => Some((1, Repl::of_bmp(u32::from(b)))),
    })
}

#[cfg(test)]
mod tests;
