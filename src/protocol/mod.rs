//! The memcached text protocol: request encoders and a reply parser.
//!
//! Pure on purpose: no I/O, so the connection layer alone owns sockets,
//! buffering and timeouts, and everything here can be tested (and fuzzed) on
//! byte slices. Encoders append to the caller's buffer, so a pipeline of
//! requests is built in one allocation. The parser borrows from the caller's
//! buffer and says how many bytes it used, so the caller decides when to read
//! more and when to compact; a successful parse never allocates.
//!
//! Keys are not checked here: the caller validates them once, before
//! encoding, where a bad key can still become a [`crate::Kind::BadKey`] error.

//!
//! `request` holds the classic encoders, `meta` those of the meta
//! commands (binary keys, leases, invalidation, quiet pipelines), `reply`
//! the parser, `value` its part for the replies that carry data.

mod meta;
mod reply;
mod request;
#[cfg(test)]
mod tests;
mod value;
#[cfg(test)]
mod value_tests;

pub use meta::*;
pub use reply::*;
pub use request::*;
pub use value::*;

/// The longest reply line accepted before a "\r\n". memcached's own lines
/// are far shorter (a `VALUE` line is at most ~300 bytes); the limit only
/// stops a peer that is not memcached from making us buffer without end.
pub const MAX_LINE: usize = 8192;

/// The largest data block a reply may announce: memcached's own limit on
/// an item (`-I` accepts at most 1024 MiB). A larger size cannot come from
/// memcached, and a reader never trusts a size to decide how much memory
/// to take (see the connection layer), but a number no server can send is
/// refused at once, before anything waits for its data.
pub const MAX_VALUE: usize = 1 << 30;
