//! memcache: a memcached client for Rust, C and Tcl.
//!
//! The layers, from the wire up: [`protocol`] (pure encoding and parsing),
//! [`connection`] (one socket), [`cluster`] (server choice and connection
//! pools), [`client`] (operations on keys), [`registry`] (process-wide named
//! handles shared by C and Tcl), and the C ABI in `capi`.

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

pub use client::{Client, Hit, Item, Options, Placed, Status};
pub use cluster::Distribution;
pub use error::{Error, Kind, Result};
