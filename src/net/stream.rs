//! The bytes of a connection: straight over its socket, or through TLS.
//! The connection makes the same calls of either.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::time::Duration;

use super::socket::{Ready, Socket};
use super::tls::TlsStream;

/// A connected socket, plain or TLS.
pub enum Stream {
    Plain(Socket),
    /// Boxed: rustls's state is large, and most connections are plain.
    Tls(Box<TlsStream>),
}

impl Stream {
    fn socket(&self) -> &Socket {
        match self {
            Stream::Plain(socket) => socket,
            Stream::Tls(tls) => tls.socket(),
        }
    }

    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.socket().set_read_timeout(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.socket().set_write_timeout(timeout)
    }

    pub fn poll(&self, timeout: Duration) -> io::Result<Ready> {
        self.socket().poll(timeout)
    }

    /// Takes what it can of `parts` ([`Socket::send`]); over TLS, some of
    /// what it took may wait for [`Stream::flush`].
    pub fn send(&mut self, parts: &[IoSlice<'_>], wait: bool) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.send(parts, wait),
            Stream::Tls(tls) => tls.send(parts, wait, false),
        }
    }

    /// As [`Stream::send`], but over TLS each part begins a new record:
    /// the last command of a pipeline goes in records of its own.
    ///
    /// Why: memcached before 1.6.39 stops reading a TLS connection whose
    /// socket is empty while OpenSSL still holds decrypted bytes of a
    /// record (its "fix potential hang when pipelining sets"). A record
    /// that runs on past the data of a `set` is read only up to that
    /// data, and if nothing follows on the socket, the rest (the next
    /// commands) is never seen: the pipeline hangs. Starting the last
    /// command on a record boundary leaves nothing behind at the end.
    pub fn send_parts(&mut self, parts: &[IoSlice<'_>], wait: bool) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.send(parts, wait),
            Stream::Tls(tls) => tls.send(parts, wait, true),
        }
    }

    /// Writes what `send` took and did not write yet (nothing, plain).
    pub fn flush(&mut self, wait: bool) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(tls) => tls.flush(wait),
        }
    }

    pub fn recv(&mut self, buf: &mut [u8], wait: bool) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.recv(buf, wait),
            Stream::Tls(tls) => tls.recv(buf, wait),
        }
    }

    pub fn recv_two(
        &mut self,
        first: &mut [MaybeUninit<u8>],
        then: &mut [u8],
    ) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.recv_two(first, then),
            Stream::Tls(tls) => tls.recv_two(first, then),
        }
    }

    pub fn is_quiet(&mut self) -> bool {
        match self {
            Stream::Plain(socket) => socket.is_quiet(),
            Stream::Tls(tls) => tls.is_quiet(),
        }
    }
}
