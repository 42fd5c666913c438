//! What a handle's flags mean (its value format): set it, read it, and the
//! text rule of each format for bindings that tell text from bytes (the
//! Tcl binding's, which the Python binding follows through these calls).

use std::ffi::c_int;

use super::boundary::{client, configure, guard, null};
use super::handles::choice;
use super::types::mc_result;
use crate::client::ValueFormat;

/// The formats, at their `MC_VALUES_*` numbers.
const FORMATS: [ValueFormat; 3] = [ValueFormat::Raw, ValueFormat::Python, ValueFormat::Php];

/// Sets what the handle's flags mean: `MC_VALUES_RAW` (the default: the
/// caller's, returned exactly), `MC_VALUES_PYTHON` (python-memcached's:
/// a value stored with flag 8, by any client, is zlib data, decompressed on
/// every read and returned with its flags without the 8; one that expands
/// past 128 MiB is `MC_TOOLARGE`, one that is not zlib data
/// `MC_PROTOCOL`) or `MC_VALUES_PHP` (PHP Memcached's: flag 16 is
/// compressed, see `mc_value_format`). Any other number is `MC_INVALID`.
/// The same as the setting `valueformat` (`raw`, `python`, `php`).
#[no_mangle]
pub extern "C" fn mc_set_value_format(handle: u64, format: u32) -> mc_result {
    guard(|| {
        let format = choice(
            format,
            &FORMATS,
            "value format",
            "MC_VALUES_RAW (0), MC_VALUES_PYTHON (1) or MC_VALUES_PHP (2)",
        )?;
        configure(handle, |options| options.value_format = format)
    })
}

/// The handle's value format (`MC_VALUES_RAW`, `MC_VALUES_PYTHON`,
/// `MC_VALUES_PHP`) into `*format`.
///
/// # Safety
/// `format` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_get_value_format(handle: u64, format: *mut u32) -> mc_result {
    guard(|| {
        if format.is_null() {
            return Err(null("format"));
        }
        let now = client(handle)?.value_format();
        let number = FORMATS.iter().position(|f| *f == now).unwrap_or(0) as u32;
        // SAFETY: checked non-null, valid for a write (this function's contract).
        unsafe { format.write(number) };
        Ok(mc_result::MC_OK)
    })
}

/// The flag bits a binding that tells text from bytes adds to a text
/// value's flags in `format`: 16 in `MC_VALUES_PYTHON` (python-memcached's
/// text flag), 0 in `MC_VALUES_PHP` (a PHP string) and `MC_VALUES_RAW`.
/// Not an `mc_result`: a pure function of its argument (0 for a number
/// that is no format).
#[no_mangle]
pub extern "C" fn mc_text_flag(format: u32) -> u32 {
    FORMATS.get(format as usize).map_or(0, |f| f.text_flag())
}

/// 1 if data stored with `flags` is text in `format` (when it is valid
/// UTF-8), else 0: flagged 16 in `MC_VALUES_PYTHON`; a PHP string,
/// integer, float or boolean (type 0 to 3) in `MC_VALUES_PHP`; never in
/// `MC_VALUES_RAW`. Not an `mc_result`: a pure function of its arguments.
#[no_mangle]
pub extern "C" fn mc_is_text(format: u32, flags: u32) -> c_int {
    FORMATS
        .get(format as usize)
        .is_some_and(|f| f.is_text(flags))
        .into()
}
