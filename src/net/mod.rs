//! The network layer: one connection to one server. It only moves bytes;
//! what they mean is [`crate::protocol`]'s business and what to send is
//! the client's.

mod auth;
mod connection;
mod deadline;
mod socket;
mod stream;
mod tls;
mod value;

pub use auth::Credentials;
pub use connection::{Connection, Dial, Values};
pub use deadline::{nanos, Deadline};
pub use tls::{TlsOptions, TlsSetup};
pub use value::{Fetched, ValueBuf, VecBuf};
