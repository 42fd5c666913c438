//! One TLS connection: rustls's state machine over a [`Socket`], with the
//! calls a [`super::super::Connection`] makes of a plain socket (send what
//! is taken, receive what has arrived, with or without waiting), so
//! pipelines, deadlines and the checks of pooled connections work the same
//! over TLS.
//!
//! rustls keeps the records it made until the socket takes them: a `send`
//! first pushes those, then hands rustls more plaintext, so the plaintext it
//! reports taken may still be on its way; [`TlsStream::flush`] ends a
//! request. A pipeline's parts each begin a record of their own (see
//! [`super::super::Stream::send_parts`]). Received records are decrypted into rustls's buffer and read
//! from there; the next record is read from the socket only when that
//! buffer is empty, which also bounds it.

use std::fmt;
use std::io::{self, BufRead, ErrorKind, IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::time::Duration;

use crate::net::Deadline;

use rustls::{AlertDescription, ClientConnection};

use super::TlsClient;
use crate::error::{Error, Kind, Result};
use crate::net::socket::Socket;

/// A socket that speaks TLS.
pub struct TlsStream {
    socket: Socket,
    tls: ClientConnection,
    /// Bytes received and not yet given to rustls: `incoming[start..end]`.
    /// rustls takes at most 4 KiB a call, so a large reply read through it
    /// straight from the socket would cost a `recv` per 4 KiB; read here
    /// first, it costs one per [`INCOMING`] bytes, as over plain TCP.
    incoming: Box<[u8]>,
    start: usize,
    end: usize,
}

/// The size of a TLS connection's receive buffer: 4 full records.
const INCOMING: usize = 64 * 1024;

/// The socket as rustls's writer, waiting or not.
struct Io<'a> {
    socket: &'a Socket,
    wait: bool,
}

impl Write for Io<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket.send(&[IoSlice::new(buf)], self.wait)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.socket.send(bufs, self.wait)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why TLS failed, in words that say what to do about the common cases;
/// shown as `TLS: <why>`, and by a handshake as `TLS handshake failed:
/// <why>`.
#[derive(Debug)]
struct TlsFailure(String);

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS: {}", self.0)
    }
}

impl std::error::Error for TlsFailure {}

/// A TLS error as an I/O error carrying its [`TlsFailure`].
fn tls_error(e: rustls::Error) -> io::Error {
    let why = match &e {
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired)
        | rustls::Error::AlertReceived(AlertDescription::HandshakeFailure) => format!(
            "the server refused the connection ({e}): does it require a client \
             certificate (-tlscert, -tlskey)?"
        ),
        rustls::Error::InvalidMessage(_) => {
            format!("{e} (does the server speak TLS? memcached needs -Z)")
        }
        _ => e.to_string(),
    };
    io::Error::new(ErrorKind::InvalidData, TlsFailure(why))
}

impl TlsStream {
    /// Makes the TLS handshake on the connected `socket` to the server
    /// `host` by `deadline`. Its errors name what failed: the certificate
    /// (untrusted, expired, of another name), the server's refusal, or the
    /// time it took.
    pub fn handshake(
        socket: Socket,
        client: &TlsClient,
        host: &str,
        timeout: Duration,
        deadline: Deadline,
    ) -> Result<TlsStream> {
        let name = client.name_for(host)?;
        let tls = ClientConnection::new(client.config.clone(), name)
            .map_err(|e| Error::new(Kind::Io, format!("TLS: {e}")))?;
        let mut stream = TlsStream {
            socket,
            tls,
            incoming: vec![0; INCOMING].into_boxed_slice(),
            start: 0,
            end: 0,
        };
        let failed = |e: io::Error| {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                Error::new(
                    Kind::Timeout,
                    format!("TLS handshake not done within {} ms", timeout.as_millis()),
                )
            } else {
                let why = match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<TlsFailure>())
                {
                    Some(TlsFailure(why)) => why.clone(),
                    None => e.to_string(),
                };
                Error::new(Kind::Io, format!("TLS handshake failed: {why}"))
            }
        };
        while stream.tls.is_handshaking() || stream.tls.wants_write() {
            let remaining = deadline.remaining();
            if remaining.is_zero() {
                return Err(failed(ErrorKind::TimedOut.into()));
            }
            stream.socket.set_read_timeout(remaining).map_err(failed)?;
            stream.socket.set_write_timeout(remaining).map_err(failed)?;
            // One step: write records, or read some (0: the end).
            let step = if stream.tls.wants_write() {
                stream.push(true).map(|()| 1)
            } else {
                stream.read_records(true)
            };
            match step {
                Ok(0) => {
                    return Err(Error::new(
                        Kind::Io,
                        "TLS handshake failed: the server closed the connection",
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(stream)
    }

    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Writes the records rustls holds; with `wait` false, a full socket
    /// is a `WouldBlock` error. With `wait`, at most one system call that
    /// waits: if records remain after it, `Interrupted` (the caller checks
    /// its deadline and calls again).
    fn push(&mut self, wait: bool) -> io::Result<()> {
        while self.tls.wants_write() {
            let mut io = Io {
                socket: &self.socket,
                wait,
            };
            match self.tls.write_tls(&mut io) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) if wait && self.tls.wants_write() => {
                    return Err(ErrorKind::Interrupted.into())
                }
                Ok(_) => {}
                Err(e) if !wait && e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Gives rustls more of what was received (reading from the socket
    /// first when nothing is left), and decrypts it: the bytes given, 0 at
    /// the end of the stream. A TLS error (a bad record, an alert from the
    /// server) is an `InvalidData` error; the alert rustls then has to send
    /// goes out if the socket takes it at once.
    fn read_records(&mut self, wait: bool) -> io::Result<usize> {
        if self.start == self.end {
            let n = self.socket.recv(&mut self.incoming, wait)?;
            if n == 0 {
                return Ok(0);
            }
            (self.start, self.end) = (0, n);
        }
        let mut received = &self.incoming[self.start..self.end];
        let n = self.tls.read_tls(&mut received)?;
        self.start += n;
        if n > 0 {
            if let Err(e) = self.tls.process_new_packets() {
                let _ = self.push(false);
                return Err(tls_error(e));
            }
            if self.tls.wants_write() {
                // A reply rustls owes the server (a key update).
                match self.push(false) {
                    Err(e) if e.kind() != ErrorKind::WouldBlock => return Err(e),
                    _ => {}
                }
            }
        }
        Ok(n)
    }

    /// Waits (or not) until plaintext is buffered: true, or the stream
    /// ended: false. With `wait`, at most one system call that waits: if
    /// the records it read hold no data yet, `Interrupted` (the caller
    /// checks its deadline and calls again).
    fn plaintext(&mut self, wait: bool) -> io::Result<bool> {
        let mut waited = false;
        loop {
            match self.tls.reader().fill_buf() {
                Ok(buffered) => return Ok(!buffered.is_empty()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(false),
                Err(e) => return Err(e),
            }
            let from_socket = self.start == self.end;
            if wait && waited && from_socket {
                return Err(ErrorKind::Interrupted.into());
            }
            waited |= from_socket;
            if self.read_records(wait)? == 0 {
                return Ok(false);
            }
        }
    }

    /// As [`Socket::send`]: the plaintext bytes of `parts` taken. With
    /// `split`, each part begins a new record (see
    /// [`super::super::Stream::send_parts`]); the records of all the parts
    /// rustls takes still go out in one write.
    pub fn send(&mut self, parts: &[IoSlice<'_>], wait: bool, split: bool) -> io::Result<usize> {
        self.push(wait)?;
        let n = if split {
            let mut taken = 0;
            for part in parts {
                let n = self.tls.writer().write(part)?;
                taken += n;
                if n < part.len() {
                    break;
                }
            }
            taken
        } else if let Some(joined) = join_small(parts, &mut [MaybeUninit::uninit(); JOIN_MAX]) {
            self.tls.writer().write(joined)?
        } else {
            self.tls.writer().write_vectored(parts)?
        };
        match self.push(wait) {
            Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => Err(e),
            _ if n == 0 && parts.iter().any(|p| !p.is_empty()) => Err(ErrorKind::WouldBlock.into()),
            _ => Ok(n),
        }
    }

    /// Writes what `send` left with rustls; with `wait` false, a full
    /// socket is a `WouldBlock` error.
    pub fn flush(&mut self, wait: bool) -> io::Result<()> {
        self.push(wait)
    }

    /// As [`Socket::recv`]: 0 at the end of the stream.
    pub fn recv(&mut self, buf: &mut [u8], wait: bool) -> io::Result<usize> {
        if buf.is_empty() || !self.plaintext(wait)? {
            return Ok(0);
        }
        self.tls.reader().read(buf)
    }

    /// As [`Socket::recv_two`]: into `first`, then `then`.
    pub fn recv_two(
        &mut self,
        first: &mut [MaybeUninit<u8>],
        then: &mut [u8],
    ) -> io::Result<usize> {
        if !self.plaintext(true)? {
            return Ok(0);
        }
        let mut reader = self.tls.reader();
        let buffered = reader.fill_buf()?;
        let n = buffered.len().min(first.len());
        first[..n].write_copy_of_slice(&buffered[..n]);
        reader.consume(n);
        if n < first.len() {
            return Ok(n);
        }
        match reader.read(then) {
            Ok(more) => Ok(n + more),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// As [`Socket::is_quiet`]: nothing to read (records that carry no
    /// data, a session ticket say, are taken), and the stream not ended.
    pub fn is_quiet(&mut self) -> bool {
        loop {
            match self.tls.reader().fill_buf() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                _ => return false,
            }
            if self.start == self.end && self.socket.is_quiet() {
                return true;
            }
            match self.read_records(false) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) => return e.kind() == ErrorKind::WouldBlock,
            }
        }
    }
}

/// The most plaintext [`join_small`] copies into one slice: a get of any
/// key ("gets " + 250 + "\r\n"), a set of a short value.
const JOIN_MAX: usize = 320;

/// Several `parts` totalling at most [`JOIN_MAX`] bytes, copied one after
/// the other into `room`: rustls's vectored write of more than one slice
/// costs a get over TLS 243 instructions more than a copy (callgrind, a
/// get sent as three parts). `None` for one part (written as it is) or
/// more bytes. `room` is not zeroed first: that alone cost 50.
fn join_small<'r>(
    parts: &[IoSlice<'_>],
    room: &'r mut [MaybeUninit<u8>; JOIN_MAX],
) -> Option<&'r [u8]> {
    if parts.len() < 2 {
        return None;
    }
    let mut len = 0;
    for part in parts {
        room.get_mut(len..len + part.len())?
            .write_copy_of_slice(part);
        len += part.len();
    }
    // SAFETY: the loop wrote every byte of `room[..len]`.
    Some(unsafe { room[..len].assume_init_ref() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_parts_are_joined() {
        let mut room = [MaybeUninit::uninit(); JOIN_MAX];
        let parts = [
            IoSlice::new(b"get "),
            IoSlice::new(b"k:1"),
            IoSlice::new(b"\r\n"),
        ];
        assert_eq!(join_small(&parts, &mut room), Some(&b"get k:1\r\n"[..]));
        // One part is written as it is.
        assert_eq!(join_small(&parts[..1], &mut room), None);
        // Exactly the room, and one byte more.
        let full = [0x61u8; JOIN_MAX - 2];
        let parts = [IoSlice::new(&full), IoSlice::new(b"\r\n")];
        let joined = join_small(&parts, &mut room).expect("fits");
        assert_eq!(
            (joined.len(), &joined[JOIN_MAX - 3..]),
            (JOIN_MAX, &b"a\r\n"[..])
        );
        let parts = [IoSlice::new(&full), IoSlice::new(b"\r\n!")];
        assert_eq!(join_small(&parts, &mut room), None);
    }
}
