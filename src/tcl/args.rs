//! Conversions of command words into the core's arguments, and of the
//! core's results into Tcl values. Pure conversions, no memcached logic.
//!
//! Numbers that go to the server (lifetimes, flags, deltas, cas ids) are
//! decimal: optional white space, an optional `+`, digits. Tcl 8.6 would
//! read `010` as octal 8; a lifetime of `010` seconds is ten seconds here.
//! A bad number is an `INVALID` error that names the argument and its range.

use std::borrow::Cow;
use std::ffi::CString;

use super::interp::{CmdError, Interp};
use super::obj::{IndexTable, Obj, ObjRef, Value};
use super::stubs as s;
use crate::client::ValueFormat;
use crate::error::{Error, Kind};
use crate::key;

/// An `INVALID` error with `message`.
pub fn invalid(message: impl Into<String>) -> CmdError {
    CmdError::Memcache(Error::new(Kind::Invalid, message))
}

/// `err` as an `INVALID` error: a Tcl parser's error (left in `interp`,
/// `unmatched open brace in list`, `bad option "-x": must be ...`) keeps
/// Tcl's message, so that every error of a subcommand's arguments but
/// `wrong # args` has the errorCode `MEMCACHE INVALID`.
pub fn tcl_invalid(interp: Interp, err: CmdError) -> CmdError {
    match err {
        CmdError::Reported => invalid(interp.result_text()),
        other => other,
    }
}

/// The elements of a list argument (a key list, a dict, list data).
pub fn list_of(interp: Interp, word: ObjRef<'_>) -> Result<Vec<Obj>, CmdError> {
    word.list_elements(interp)
        .map_err(|e| tcl_invalid(interp, e))
}

/// A `NOTFOUND` error for `key`.
pub fn not_found(key: &[u8]) -> CmdError {
    CmdError::Memcache(Error::new(
        Kind::NotFound,
        format!("no data for key \"{}\"", key::show(key)),
    ))
}

/// A `kind` error whose message is `message` with `KEY` replaced by the key.
pub fn key_error(kind: Kind, key: &[u8], message: &str) -> CmdError {
    CmdError::Memcache(Error::new(
        kind,
        message.replace("KEY", &format!("\"{}\"", key::show(key))),
    ))
}

/// Checks that `objv` (the command word and its arguments) has from `min`
/// to `max` arguments, else sets `wrong # args: should be "memcache <sub>
/// <usage>"`.
pub fn arity(
    interp: Interp,
    objv: &[ObjRef<'_>],
    min: usize,
    max: usize,
    usage: &str,
) -> Result<(), CmdError> {
    let n = objv.len().saturating_sub(1);
    if n < min || n > max {
        return Err(interp.wrong_num_args(1, objv, usage));
    }
    Ok(())
}

/// A key: the UTF-8 of the string, whatever the value's internal form, so
/// the same Tcl string always names the same item (a pure bytearray's raw
/// bytes would name another one than its string does). Checked by the core
/// when used.
pub fn key_bytes(word: ObjRef<'_>) -> Cow<'_, [u8]> {
    word.to_utf8()
}

/// The bytes of a value.
pub fn value_bytes(value: Value<'_>) -> Cow<'_, [u8]> {
    match value {
        Value::Binary(bytes) => Cow::Borrowed(bytes),
        Value::Text(text) => text,
    }
}

/// The flags to store data with in the handle's value `format`: text gets
/// its text flag (16 in the python format, none in php's).
pub fn data_and_flags(value: &Value<'_>, flags: u32, format: ValueFormat) -> u32 {
    if value.is_text() {
        flags | format.text_flag()
    } else {
        flags
    }
}

/// Stored data as a Tcl value: text if the handle's value `format` reads
/// `flags` as text and it is valid UTF-8 (or the three-byte form this
/// library writes for an unpaired surrogate, which a Tcl string may hold),
/// else a bytearray.
pub fn data_obj(bytes: &[u8], flags: u32, format: ValueFormat) -> Obj {
    Obj::new_value(bytes, format.is_text(flags))
}

/// An unsigned 64-bit number as a Tcl integer (beyond a wide int, Tcl reads
/// the decimal string as a big integer).
pub fn u64_obj(n: u64) -> Obj {
    match i64::try_from(n) {
        Ok(wide) => Obj::new_int(wide),
        Err(_) => Obj::new_text(&n.to_string()),
    }
}

/// A decimal number from 0 to `max`, or `None`.
fn decimal(word: ObjRef<'_>, max: u64) -> Option<u64> {
    let text = word.tcl_string();
    let text = text.trim_ascii();
    let digits = text.strip_prefix(b"+").unwrap_or(text);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse::<u64>()
        .ok()
        .filter(|&n| n <= max)
}

/// A number of seconds (a ttl or a delay): 0 to 2^32-1.
pub fn seconds(word: ObjRef<'_>, what: &str) -> Result<u32, CmdError> {
    decimal(word, u64::from(u32::MAX))
        .map(|n| n as u32)
        .ok_or_else(|| {
            invalid(format!(
                "bad {what} \"{}\": must be a number of seconds from 0 to {}",
                word.to_string_lossy(),
                u32::MAX
            ))
        })
}

/// A 32-bit unsigned number (flags).
pub fn u32_arg(word: ObjRef<'_>, what: &str) -> Result<u32, CmdError> {
    decimal(word, u64::from(u32::MAX))
        .map(|n| n as u32)
        .ok_or_else(|| {
            invalid(format!(
                "bad {what} \"{}\": must be a number from 0 to {}",
                word.to_string_lossy(),
                u32::MAX
            ))
        })
}

/// A 32-bit number from 1 (milliseconds, megabytes).
pub fn positive_u32(word: ObjRef<'_>, what: &str, unit: &str) -> Result<u32, CmdError> {
    decimal(word, u64::from(u32::MAX))
        .filter(|&n| n > 0)
        .map(|n| n as u32)
        .ok_or_else(|| {
            invalid(format!(
                "bad {what} \"{}\": must be a number of {unit} from 1 to {}",
                word.to_string_lossy(),
                u32::MAX
            ))
        })
}

/// A 64-bit unsigned number (a delta, a cas id).
pub fn u64_arg(word: ObjRef<'_>, what: &str) -> Result<u64, CmdError> {
    decimal(word, u64::MAX).ok_or_else(|| {
        invalid(format!(
            "bad {what} \"{}\": must be a number from 0 to {}",
            word.to_string_lossy(),
            u64::MAX
        ))
    })
}

/// A list index as `lindex` and `string index` read it: an integer,
/// `end`, `end-N`, `end+N`, `M+N` or `M-N` (the integers in Tcl's syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// From the start.
    Start(i64),
    /// From the last element: `end` is `End(0)`, `end-1` is `End(-1)`.
    End(i64),
}

impl Index {
    /// The position in a list of `len` elements, if it is one.
    pub fn resolve(self, len: usize) -> Option<usize> {
        let len = i64::try_from(len).ok()?;
        let at = match self {
            Index::Start(n) => n,
            Index::End(n) => (len - 1).checked_add(n)?,
        };
        usize::try_from(at).ok().filter(|&at| (at as i64) < len)
    }
}

/// Parses a list index (see [`Index`]); an `INVALID` error with Tcl's
/// message for anything else.
pub fn index(word: ObjRef<'_>) -> Result<Index, CmdError> {
    let text = word.to_string_lossy();
    parse_index(&text, tcl_integer).ok_or_else(|| {
        invalid(format!(
            "bad index \"{text}\": must be integer?[+-]integer? or end?[+-]integer?"
        ))
    })
}

/// An integer in Tcl's syntax (white space around it allowed), or `None`.
fn tcl_integer(text: &str) -> Option<i64> {
    Obj::new_text(text).as_obj().quiet_wide()
}

/// [`index`] with the integer reader passed in (so it can be tested
/// without Tcl): integers may have white space before (at the start) and
/// after (at the end), not around the operator, as in Tcl 8.6.
fn parse_index(text: &str, integer: impl Fn(&str) -> Option<i64>) -> Option<Index> {
    let lead = text.trim_start();
    if let Some(rest) = lead.strip_prefix("end") {
        if rest.trim_end().is_empty() {
            return Some(Index::End(0));
        }
        let (negative, number) = match rest.as_bytes()[0] {
            b'-' => (true, &rest[1..]),
            b'+' => (false, &rest[1..]),
            _ => return None,
        };
        if number.starts_with(|c: char| c.is_whitespace()) {
            return None;
        }
        let n = integer(number)?;
        return Some(Index::End(if negative { n.checked_neg()? } else { n }));
    }
    if let Some(n) = integer(text) {
        return Some(Index::Start(n));
    }
    // M+N or M-N: try each operator position after the first character.
    for (at, op) in lead.char_indices().skip(1) {
        if op != '+' && op != '-' {
            continue;
        }
        let (left, right) = (&text[..text.len() - lead.len() + at], &lead[at + 1..]);
        if left.ends_with(|c: char| c.is_whitespace())
            || right.starts_with(|c: char| c.is_whitespace())
        {
            continue;
        }
        if let (Some(m), Some(n)) = (integer(left), integer(right)) {
            let sum = if op == '+' {
                m.checked_add(n)
            } else {
                m.checked_sub(n)
            };
            return sum.map(Index::Start);
        }
    }
    None
}

/// Whether `text` matches the glob `pattern` as `string match` does
/// (`Tcl_StringCaseMatch`: `*`, `?`, `[chars]`, `\x`).
pub fn string_match(pattern: ObjRef<'_>, text: &str) -> bool {
    // Tcl's internal form has no NUL byte (NUL is C0 80), nor has the
    // internal form of a Rust string.
    let (Ok(pattern), Ok(text)) = (
        CString::new(pattern.tcl_string()),
        CString::new(super::utf::str_to_tcl(text, super::stubs::abi()).into_owned()),
    ) else {
        return false;
    };
    // SAFETY: two NUL-terminated strings in Tcl's internal form.
    unsafe { s::Tcl_StringCaseMatch(text.as_ptr(), pattern.as_ptr(), 0) != 0 }
}

/// Reads the `-option value` pairs that follow the command word (options
/// named in `table`, unique prefixes allowed), giving each to
/// `set(option index, value)`; returns the command word and the words
/// after the options.
pub fn options<'a>(
    interp: Interp,
    objv: &[ObjRef<'a>],
    table: &'static IndexTable,
    mut set: impl FnMut(usize, ObjRef<'a>) -> Result<(), CmdError>,
) -> Result<Vec<ObjRef<'a>>, CmdError> {
    let mut i = 1;
    while let Some(&word) = objv.get(i) {
        if !word.tcl_string().starts_with(b"-") {
            break;
        }
        let which = word
            .get_index(interp, table, c"option", false)
            .map_err(|e| tcl_invalid(interp, e))?;
        let Some(&value) = objv.get(i + 1) else {
            return Err(invalid(format!(
                "value for \"{}\" missing",
                word.to_string_lossy()
            )));
        };
        set(which, value)?;
        i += 2;
    }
    let mut rest = Vec::with_capacity(objv.len() + 1 - i.min(objv.len()));
    rest.push(objv[0]);
    rest.extend_from_slice(objv.get(i..).unwrap_or(&[]));
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for Tcl's integer reader: decimal with white space around.
    fn int(text: &str) -> Option<i64> {
        let t = text.trim();
        let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    }

    #[test]
    fn indexes_as_tcl_reads_them() {
        let cases: &[(&str, Option<Index>)] = &[
            ("0", Some(Index::Start(0))),
            (" 1 ", Some(Index::Start(1))),
            ("-1", Some(Index::Start(-1))),
            ("+1", Some(Index::Start(1))),
            ("end", Some(Index::End(0))),
            (" end", Some(Index::End(0))),
            ("end-1", Some(Index::End(-1))),
            ("end-1 ", Some(Index::End(-1))),
            ("end+1", Some(Index::End(1))),
            ("end--1", Some(Index::End(1))),
            ("end+-1", Some(Index::End(-1))),
            ("end-+1", Some(Index::End(-1))),
            ("1+1", Some(Index::Start(2))),
            ("3-1", Some(Index::Start(2))),
            ("1+-1", Some(Index::Start(0))),
            ("1+1 ", Some(Index::Start(2))),
            (" 1+1", Some(Index::Start(2))),
            ("-1-1", Some(Index::Start(-2))),
            ("1 +1", None),
            ("1+ 1", None),
            ("end- 1", None),
            ("end-", None),
            ("endx", None),
            ("", None),
            ("x", None),
            ("1.0", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_index(text, int), *want, "{text:?}");
        }
    }

    #[test]
    fn indexes_resolve_like_lindex() {
        assert_eq!(Index::Start(0).resolve(3), Some(0));
        assert_eq!(Index::Start(2).resolve(3), Some(2));
        assert_eq!(Index::Start(3).resolve(3), None);
        assert_eq!(Index::Start(-1).resolve(3), None);
        assert_eq!(Index::End(0).resolve(3), Some(2));
        assert_eq!(Index::End(-2).resolve(3), Some(0));
        assert_eq!(Index::End(-3).resolve(3), None);
        assert_eq!(Index::End(1).resolve(3), None);
        assert_eq!(Index::End(0).resolve(0), None);
        assert_eq!(Index::End(i64::MAX).resolve(3), None);
        assert_eq!(Index::Start(i64::MIN).resolve(3), None);
    }
}
