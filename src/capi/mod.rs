//! The C ABI: `#include <memcache.h>`, link with `-lmemcache`.
//!
//! Conventions, the same for every function:
//!
//! - Every function returns an `mc_result`; `MC_OK` is 0. A miss
//!   (`MC_NOTFOUND`), a refused store (`MC_NOTSTORED`) and a CAS conflict
//!   (`MC_EXISTS`) are results, not failures, and like every other result but
//!   `MC_OK` they leave a message for `mc_last_error()`.
//! - Handles are numbers from the process-wide registry, shared with Tcl
//!   (handle 3 is Tcl's `memcache3`). A deleted or unknown handle gives
//!   `MC_BADHANDLE`, never undefined behaviour. Any thread may use any handle
//!   at the same time as others.
//! - Keys are NUL-terminated strings of 1 to 250 bytes without whitespace or
//!   control characters (with the `binarykeys` setting, any key up to 186
//!   bytes; the `_n` calls take a key and its length, so it may hold NUL);
//!   values are byte buffers with a length.
//! - TTLs are relative seconds; 0 means no expiry; more than 30 days works
//!   (the `_exptime` calls take memcached's own exptime instead).
//! - Output parameters are written only when the call returns `MC_OK`.
//! - Memory the library returns (values, hit and stat arrays, strings) is one
//!   block per call, released with `mc_free()`.
//! - No Rust panic crosses this boundary: one becomes `MC_PANIC`.
//!
//! Where things are: `types` (result codes and structs), `boundary`
//! (the panic boundary, arguments and results), `handles`, `formats` (value
//! formats), `settings`, `servers`,
//! `store`, `fetch`, `keys`, `binary` (the `_n` calls), `exptime` (the `_exptime` calls), `update` and `lease` (CGI state). Each C function is written out with its
//! own doc comment, even where several differ in one argument (the
//! `_by_key` twins): cbindgen reads the source, not macro expansions, and
//! the header carries every function's documentation.

mod binary;
mod boundary;
mod exptime;
mod fetch;
mod formats;
mod found;
mod handles;
mod keys;
mod lease;
mod servers;
mod settings;
mod store;
mod types;
mod update;

pub use binary::*;
pub use boundary::{mc_free, mc_last_error};
pub use exptime::*;
pub use fetch::*;
pub use formats::*;
pub use handles::*;
pub use keys::*;
pub use lease::*;
pub use servers::*;
pub use settings::*;
pub use store::*;
pub use types::*;
pub use update::*;
