//! The one error type of the library.
//!
//! Every failure carries a [`Kind`] (stable, matched on by the C result codes
//! and the Tcl `errorCode`) and a message a person can act on, which names the
//! server when a server was involved and quotes the server's own text.

use std::fmt;

/// What went wrong, as a stable word. The C codes and Tcl error codes are
/// derived from this, so variants are only ever added, never renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The key has no item (used where a miss is an error, e.g. Tcl `get`).
    NotFound,
    /// `add` on an existing key, `replace`/`append`/`prepend` on a missing one.
    NotStored,
    /// `cas` on an item changed since its `gets`.
    Exists,
    /// A key that memcached's text protocol cannot carry: empty, over 250
    /// bytes, or with whitespace or control characters.
    BadKey,
    /// A value larger than the server's item size limit.
    TooLarge,
    /// `incr`/`decr` on a value that is not a decimal number.
    NotNumeric,
    /// No reply within the I/O timeout, or no connection within the connect
    /// timeout.
    Timeout,
    /// A socket error: connection refused, reset, closed by the server.
    Io,
    /// The server answered `SERVER_ERROR` (out of memory, ...).
    Server,
    /// The server answered `CLIENT_ERROR` or `ERROR`: it did not understand us.
    Client,
    /// The server's reply could not be parsed.
    Protocol,
    /// A handle name or number that is not (or no longer) registered.
    BadHandle,
    /// A bad argument: a malformed server spec, a host that does not resolve,
    /// a null pointer, an unknown option.
    Invalid,
    /// A local memcached daemon could not be started or stopped.
    Daemon,
    /// A Rust panic was caught at the C or Tcl boundary (a bug in this library).
    Panic,
    /// Other writers or holders won every time: an update whose item kept
    /// changing under it, a lock still held when the wait ran out.
    Conflict,
    /// The server requires a login (an auth file, `-Y`), and it was
    /// refused or none was configured.
    Auth,
}

impl Kind {
    /// The stable upper-case word used in Tcl's `errorCode` (`MEMCACHE KIND`).
    pub fn word(self) -> &'static str {
        match self {
            Kind::NotFound => "NOTFOUND",
            Kind::NotStored => "NOTSTORED",
            Kind::Exists => "EXISTS",
            Kind::BadKey => "BADKEY",
            Kind::TooLarge => "TOOLARGE",
            Kind::NotNumeric => "NOTNUMERIC",
            Kind::Timeout => "TIMEOUT",
            Kind::Io => "IO",
            Kind::Server => "SERVER",
            Kind::Client => "CLIENT",
            Kind::Protocol => "PROTOCOL",
            Kind::BadHandle => "BADHANDLE",
            Kind::Invalid => "INVALID",
            Kind::Daemon => "DAEMON",
            Kind::Panic => "PANIC",
            Kind::Conflict => "CONFLICT",
            Kind::Auth => "AUTH",
        }
    }
}

/// An error: a [`Kind`] and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
    message: String,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context: ` in front of its message (typically the
    /// server's name), so a person knows where it happened.
    pub fn context(self, context: impl fmt::Display) -> Error {
        Error {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// The message a panic carried (`panic!("...")` gives a `&str` or a
/// `String`), for the bindings that turn a caught panic into an error.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}
