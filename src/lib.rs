//! memcache: a memcached client for Rust, C and Tcl.
//!
//! The layers, from the wire up: [`protocol`] (pure encoding and parsing),
//! [`net`] (one connection: a socket, its buffer, deadlines), [`cluster`]
//! (server choice, dead marks, connection pools), [`client`] (operations on
//! keys), [`daemon`] (local memcached processes), [`registry`]
//! (process-wide named handles shared by C and Tcl), and the bindings: the
//! C ABI in `capi` and the Tcl extension in `tcl`.
//!
//! # Process-wide state
//!
//! Everything else lives in a handle. These are global, each for a reason:
//!
//! - `registry::REGISTRY`: the handles, so that a name made in Tcl, a number
//!   made in C and a handle made in another thread name the same client.
//! - `fork::GENERATION` and the fork handlers (`fork::HELD`, per thread):
//!   `pthread_atfork` is process-wide; the generation tells a connection it
//!   was inherited without a `getpid` per request.
//! - `cluster::node::epoch`: the instant dead marks and clocks count from,
//!   so that an `Instant` fits an atomic (no lock on the request path).
//! - `capi::boundary::LAST_ERROR`, per thread: `mc_last_error()` takes no
//!   handle (C's `errno` convention).
//! - `tcl::stubs::STUBS`, `tcl::obj::BYTEARRAY_TYPE`,
//!   `tcl::EXIT_HANDLER`: Tcl hands an extension its function table and
//!   types once per process, and its exit handler is registered once; Tcl
//!   calls back into plain C functions that carry no Rust context.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod capi;
pub mod client;
pub mod cluster;
pub mod daemon;
pub mod error;
mod fork;
pub mod key;
mod md5;
pub mod net;
pub mod protocol;
pub mod registry;
pub mod server;
mod tcl;

pub use client::{
    Change, Client, Credentials, FetchOptions, Hit, Item, Lease, LeaseState, Options, Placed,
    Status, TlsOptions, ValueFormat, UPDATE_TRIES,
};
pub use cluster::Distribution;
pub use error::{Error, Kind, Result};
