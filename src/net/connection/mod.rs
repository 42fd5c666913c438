//! One connection to one server, plain or TLS: connect with a timeout,
//! write requests, read replies against a deadline. It only moves bytes;
//! what they mean is the protocol layer's business and what to send is the
//! client's.
//!
//! A connection that fails in any way is dropped by its owner, never used
//! again: after a timeout or a parse error the stream's position is unknown,
//! and the next request would read the previous request's late reply.

use std::io::ErrorKind;
use std::mem::MaybeUninit;
use std::time::Duration;

use super::deadline::{nanos, Deadline};
use super::socket::Socket;
use super::stream::Stream;
use super::tls::{TlsClient, TlsSetup, TlsStream};
use super::value::{Fetched, ValueBuf};
use crate::error::{Error, Kind, Result};
use crate::protocol::{self, Reply, Start};
use crate::server::Address;

/// Read buffer size for ordinary replies.
const READ_CHUNK: usize = 16 * 1024;

/// The largest value whose buffer is made at its announced size before its
/// data arrives (memcached's default item limit). A larger value is read
/// into the read buffer as it arrives, which grows to at most twice what
/// has arrived, and copied once at the end: a server's number alone never
/// decides how much memory is taken.
const PRESIZE_MAX: usize = 1 << 20;

/// A socket timeout is re-armed only when the operation's remaining time
/// differs from the armed one by more than this (5 ms, in nanoseconds): it
/// saves a `setsockopt` per request at the cost of a deadline this much
/// late at worst.
const TIMEOUT_SLACK: u64 = 5_000_000;

/// An open connection with its read buffer.
pub struct Connection {
    stream: Stream,
    /// Bytes read and not yet consumed are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The read timeout currently armed on the socket, in nanoseconds.
    armed: u64,
    /// The write timeout currently armed on the socket, in nanoseconds.
    write_armed: u64,
    /// The configured per-operation I/O timeout.
    io_timeout: Duration,
    fork_generation: u64,
    /// Bytes received during the current operation.
    received: usize,
    /// The server closed (or reset) the connection during the current
    /// operation.
    closed_by_peer: bool,
}

/// Where [`Connection::read_values`] puts a multi-get's values: the
/// caller knows the keys asked, and which one the next value most likely
/// answers.
pub trait Values {
    /// The key (as sent) the next value most likely answers; empty for
    /// none.
    fn next_key(&self) -> &[u8];
    /// A value for [`Values::next_key`].
    fn next_value(&mut self, flags: u32, cas: Option<u64>, data: &[u8]) -> Result<()>;
    /// A value for `key` as the server sent it, any other key.
    fn value(&mut self, key: &[u8], flags: u32, cas: Option<u64>, data: &[u8]) -> Result<()>;
}

/// How a connection is opened: its timeouts, its TLS settings, and the
/// credentials it logs in with first (servers started with an auth file
/// require them).
#[derive(Debug, Clone, Copy)]
pub struct Dial<'a> {
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    pub auth: Option<&'a super::Credentials>,
    /// The handle's TLS settings: used for its TCP servers when they are
    /// on, and always for the servers written `tls://`.
    pub tls: &'a TlsSetup,
}

impl Dial<'_> {
    /// The TLS settings a connection to `address` uses, if it uses TLS.
    fn tls_for(&self, address: &Address) -> Result<Option<&TlsClient>> {
        match address {
            Address::Tcp {
                tls: Some(true), ..
            } => self.tls.client().map(Some),
            Address::Tcp { tls: None, .. } if self.tls.options().enabled => {
                self.tls.client().map(Some)
            }
            _ => Ok(None),
        }
    }
}

impl Connection {
    /// Connects to `address` as `dial` says (the connect timeout per
    /// address tried, and for the TLS handshake), and logs in when it has
    /// credentials.
    pub fn open(address: &Address, dial: &Dial<'_>) -> Result<Connection> {
        let mut conn = Connection::connect(address, dial)?;
        if let Some(auth) = dial.auth {
            conn.login(auth, conn.deadline())?;
        }
        Ok(conn)
    }

    fn connect(address: &Address, dial: &Dial<'_>) -> Result<Connection> {
        let (connect_timeout, io_timeout) = (dial.connect_timeout, dial.io_timeout);
        let deadline = Deadline::after(connect_timeout);
        let tls = dial.tls_for(address)?;
        let generation = crate::fork::generation();
        let socket = match address {
            Address::Tcp { addrs, .. } => {
                let mut last = None;
                let mut stream = None;
                for addr in addrs {
                    match Socket::tcp(addr, connect_timeout) {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                match (stream, last) {
                    (Some(s), _) => s,
                    (None, Some(e)) => return Err(connect_error(&e, connect_timeout)),
                    (None, None) => return Err(Error::new(Kind::Io, "no address to connect to")),
                }
            }
            Address::Unix(path) => Socket::unix(path, connect_timeout)
                .map_err(|e| connect_error(&e, connect_timeout))?,
        };
        let stream = match (tls, address) {
            (Some(client), Address::Tcp { host, .. }) => Stream::Tls(Box::new(
                TlsStream::handshake(socket, client, host, connect_timeout, deadline)?,
            )),
            _ => Stream::Plain(socket),
        };
        stream
            .set_read_timeout(io_timeout)
            .map_err(|e| io_error(&e))?;
        stream
            .set_write_timeout(io_timeout)
            .map_err(|e| io_error(&e))?;
        Ok(Connection {
            stream,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            armed: nanos(io_timeout),
            write_armed: nanos(io_timeout),
            io_timeout,
            fork_generation: generation,
            received: 0,
            closed_by_peer: false,
        })
    }

    /// True when this process is a fork of the one that opened the
    /// connection: the parent may be using the same socket, so the child
    /// must close its copy without sending anything.
    pub fn is_inherited(&self) -> bool {
        self.fork_generation != crate::fork::generation()
    }

    /// True when every byte read has been consumed by a reply. A connection
    /// with bytes left over (a server that sent more than was asked) would
    /// hand them to the next request as its reply, so it is not pooled.
    pub fn is_drained(&self) -> bool {
        self.start == self.end
    }

    /// True when the current operation failed because the server had closed
    /// the connection, before it sent a byte of reply: on a pooled
    /// connection that means the server closed it while it was idle and
    /// never saw the request, which can then be sent again on a new one.
    /// A timeout is not such a failure: the server may hold the request and
    /// act on it later.
    pub fn closed_before_reply(&self) -> bool {
        self.closed_by_peer && self.received == 0
    }

    /// The deadline of an operation starting now.
    pub fn deadline(&self) -> Deadline {
        Deadline::after(self.io_timeout)
    }

    /// Is this idle connection still fit to carry a request that must not
    /// be sent twice? A pooled connection the server closed meanwhile (a
    /// restart, an idle timeout) is found here, before anything is sent;
    /// one with bytes waiting (a late reply, an error the server sent on
    /// its own) is not in step. One non-blocking `recv` that peeks.
    pub fn is_idle_and_open(&mut self) -> bool {
        self.stream.is_quiet()
    }

    /// Reads until one whole reply is buffered, hands it to `handle`, and
    /// consumes it. A reply the protocol layer rejects is an error, and so
    /// is a value: this is the reader of the replies that carry none.
    pub fn read_reply<T>(
        &mut self,
        deadline: Deadline,
        handle: impl FnOnce(Reply<'_>) -> T,
    ) -> Result<T> {
        self.read_with(protocol::parse_dataless, deadline, handle)
    }

    /// Consumes `expected` if the buffered reply starts with it: the
    /// usual end of a reply (a get's `END` after its value), recognised
    /// without a parse (measured: 60 instructions a get). False otherwise;
    /// the caller then reads the reply as usual.
    pub fn skip(&mut self, expected: &[u8]) -> bool {
        let found = self.buf[self.start..self.end].starts_with(expected);
        if found {
            self.consume(expected.len());
        }
        found
    }

    /// As [`Connection::read_reply`], for a retrieval: the reply may be a
    /// value, read whole into the read buffer.
    pub fn read_unit<T>(
        &mut self,
        deadline: Deadline,
        handle: impl FnOnce(Reply<'_>) -> T,
    ) -> Result<T> {
        self.read_with(protocol::parse, deadline, handle)
    }

    /// Reads the units of a multi-get's reply up to its `END`, each value
    /// to `values` while it is in the read buffer; any other unit to
    /// `other`, whose error ends the call. One loop over the buffer instead
    /// of a [`Connection::read_unit`] per value (callgrind: -75
    /// instructions a hit, C mget100 86.8k -> 79.3k); a value for the key
    /// `values` expects next is read by comparing that key
    /// ([`protocol::value_of`]) instead of searching for the key's end.
    pub fn read_values(
        &mut self,
        deadline: Deadline,
        values: &mut impl Values,
        other: impl FnOnce(Reply<'_>) -> Error,
    ) -> Result<()> {
        loop {
            if self.start == self.end {
                self.fill(deadline)?;
            }
            let buf = &self.buf[self.start..self.end];
            if let Some((flags, cas, data, used)) = protocol::value_of(buf, values.next_key()) {
                values.next_value(flags, cas, data)?;
                self.consume(used);
                continue;
            }
            match protocol::parse(buf)? {
                Some((
                    Reply::Value {
                        key,
                        flags,
                        cas,
                        data,
                    },
                    used,
                )) => {
                    values.value(key, flags, cas, data)?;
                    self.consume(used);
                }
                Some((Reply::End, used)) => {
                    self.consume(used);
                    return Ok(());
                }
                Some((reply, _)) => return Err(other(reply)),
                None => self.fill(deadline)?,
            }
        }
    }

    fn read_with<T>(
        &mut self,
        parse: Parser,
        deadline: Deadline,
        handle: impl FnOnce(Reply<'_>) -> T,
    ) -> Result<T> {
        if self.start == self.end {
            self.fill(deadline)?;
        }
        loop {
            if let Some((reply, used)) = parse(&self.buf[self.start..self.end])? {
                let out = handle(reply);
                self.consume(used);
                return Ok(out);
            }
            self.fill(deadline)?;
        }
    }

    /// Reads the first reply unit to a retrieval of `key`. A value's data goes
    /// straight from the socket into the buffer `make(size, flags)` returns
    /// (only the part that came with the header is copied, from the read
    /// buffer), so a large value is never copied in user space; `other`
    /// handles any other unit (`END`, an error reply). The value's "\r\n"
    /// is consumed; what follows it (`END`) is left for `read_reply`.
    pub fn read_value<B: ValueBuf, T>(
        &mut self,
        deadline: Deadline,
        key: &[u8],
        make: impl FnOnce(usize, u32) -> Result<B>,
        other: impl FnOnce(Reply<'_>) -> T,
    ) -> Result<Fetched<B, T>> {
        if self.start == self.end {
            // Nothing buffered (the usual case): nothing to parse yet.
            self.fill(deadline)?;
        }
        let (flags, cas, size, header) = loop {
            match protocol::parse_start(&self.buf[self.start..self.end])? {
                Some(Start::Value {
                    key: got,
                    flags,
                    cas,
                    size,
                    header,
                }) => {
                    if got != key {
                        return Err(Error::new(
                            Kind::Protocol,
                            format!(
                                "reply with a value for key \"{}\" to a request for \"{}\"",
                                crate::key::show(got),
                                crate::key::show(key)
                            ),
                        ));
                    }
                    break (flags, cas, size, header);
                }
                Some(Start::Other(reply, used)) => {
                    let out = other(reply);
                    self.consume(used);
                    return Ok(Fetched::Other(out));
                }
                None => self.fill(deadline)?,
            }
        };
        // The header line as an error message quotes it.
        let quoted = (header - 2).min(protocol::QUOTED_LINE);
        let line_at = self.start;
        self.start += header;
        if size <= PRESIZE_MAX && self.end - self.start >= size + 2 {
            // All of it buffered (most values): one copy, and the block's
            // end checked where the header line still is.
            let mut value = make(size, flags)?;
            fill_from(&mut value, &self.buf[self.start..self.start + size])?;
            let line = &self.buf[line_at..line_at + quoted];
            protocol::block_end(&self.buf[self.start + size..self.end], line)?;
            self.consume(size + 2);
            return Ok(Fetched::Value { value, flags, cas });
        }
        // Kept for the message of a bad block end: by then the read buffer
        // may hold other bytes.
        let mut line = [0u8; protocol::QUOTED_LINE];
        line[..quoted].copy_from_slice(&self.buf[line_at..line_at + quoted]);
        if size > PRESIZE_MAX {
            // Read as it arrives, then copied once into the caller's buffer.
            while self.end - self.start < size + 2 {
                self.fill_for(deadline, size + 2)?;
            }
            protocol::block_end(&self.buf[self.start + size..self.end], &line[..quoted])?;
            let mut value = make(size, flags)?;
            fill_from(&mut value, &self.buf[self.start..self.start + size])?;
            self.consume(size + 2);
            return Ok(Fetched::Value { value, flags, cas });
        }
        let mut value = make(size, flags)?;
        let slots = value.slots();
        if slots.len() != size {
            return Err(Error::new(
                Kind::Invalid,
                format!("a value buffer of {} bytes for {size}", slots.len()),
            ));
        }
        let buffered = (self.end - self.start).min(size);
        slots[..buffered].write_copy_of_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        let mut filled = buffered;
        if filled < size {
            // All that was buffered is in `slots` now: the rest of the data
            // is read into them, what follows it into the read buffer.
            self.start = 0;
            self.end = 0;
            while filled < size {
                let n = self.recv(deadline, Some(&mut slots[filled..]))?;
                let into_value = n.min(size - filled);
                filled += into_value;
                self.end += n - into_value;
            }
        }
        // SAFETY: the loop above ends only when all `size` slots are
        // written, by the copy or by the kernel.
        unsafe { value.set_filled() };
        loop {
            match protocol::block_end(&self.buf[self.start..self.end], &line[..quoted])? {
                Some(used) => {
                    self.consume(used);
                    return Ok(Fetched::Value { value, flags, cas });
                }
                None => self.fill(deadline)?,
            }
        }
    }

    /// Marks `used` buffered bytes as read.
    fn consume(&mut self, used: usize) {
        self.start += used;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes into the buffer, making room first for the reply
    /// unit under way (its whole size is known from a value's header).
    fn fill(&mut self, deadline: Deadline) -> Result<()> {
        let pending = &self.buf[self.start..self.end];
        let want = match pending.is_empty() {
            // A reply's start: nothing to look at (most requests).
            true => READ_CHUNK / 2,
            false => protocol::needed(pending).unwrap_or(pending.len() + READ_CHUNK / 2),
        };
        self.fill_for(deadline, want)
    }

    /// Reads more bytes into the buffer, making room for `want` buffered
    /// bytes, but at most twice as many as are there: the buffer grows
    /// with what arrives, never to a size the server only announced.
    fn fill_for(&mut self, deadline: Deadline, want: usize) -> Result<()> {
        let pending = self.end - self.start;
        let want = want.min(pending.max(READ_CHUNK) * 2);
        if self.start + want > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if want > self.buf.len() {
                self.buf.resize(want.max(self.end + READ_CHUNK), 0);
            }
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() + READ_CHUNK, 0);
        }
        let n = self.recv(deadline, None)?;
        self.end += n;
        Ok(())
    }

    /// One `recv` into the free part of the read buffer, `buf[end..]`, or,
    /// when `value` is given, one `readv` into `value` and then that part,
    /// under the deadline; the caller accounts for the bytes (the first
    /// `value.len()` went to `value`). A closed connection, a timeout, any
    /// error is an `Err`. A call interrupted (a signal, or a TLS stream
    /// that read records but no data yet) is made again only if time is
    /// left, so a server that sends a byte at a time cannot stretch it.
    fn recv(
        &mut self,
        deadline: Deadline,
        mut value: Option<&mut [MaybeUninit<u8>]>,
    ) -> Result<usize> {
        loop {
            if !arm(
                &self.stream,
                &mut self.armed,
                deadline,
                Stream::set_read_timeout,
            )? {
                return Err(self.timeout());
            }
            let spare = &mut self.buf[self.end..];
            let result = match value.as_deref_mut() {
                // One buffer: `recv`, cheaper for the kernel than `recvmsg`.
                None => self.stream.recv(spare, true),
                Some(value) => self.stream.recv_two(value, spare),
            };
            match result {
                Ok(0) => {
                    self.closed_by_peer = true;
                    return Err(Error::new(
                        Kind::Io,
                        if self.received == 0 {
                            "connection closed by the server before it replied"
                        } else {
                            "connection closed by the server in the middle of a reply"
                        },
                    ));
                }
                Ok(n) => {
                    self.received += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(self.timeout()),
                Err(e) => {
                    self.closed_by_peer = is_closed(&e);
                    return Err(io_error(&e));
                }
            }
        }
    }

    fn timeout(&self) -> Error {
        Error::new(
            Kind::Timeout,
            format!("no reply within {} ms", self.io_timeout.as_millis()),
        )
    }
}

/// Fills `value`, made for `data.len()` bytes, with `data`.
fn fill_from<B: ValueBuf>(value: &mut B, data: &[u8]) -> Result<()> {
    let slots = value.slots();
    if slots.len() != data.len() {
        return Err(Error::new(
            Kind::Invalid,
            format!("a value buffer of {} bytes for {}", slots.len(), data.len()),
        ));
    }
    slots.write_copy_of_slice(data);
    // SAFETY: every slot was just written by the copy.
    unsafe { value.set_filled() };
    Ok(())
}

/// Arms one of `stream`'s timeouts (`set`; `armed` is what it is now, in
/// nanoseconds) for what is left until `deadline`, when that differs from
/// it by more than the slack; false when nothing is left. The one rule of
/// the read and the write timeout.
#[inline(always)]
fn arm(
    stream: &Stream,
    armed: &mut u64,
    deadline: Deadline,
    set: fn(&Stream, Duration) -> std::io::Result<()>,
) -> Result<bool> {
    let left = deadline.nanos_left();
    if left == 0 {
        return Ok(false);
    }
    if left.abs_diff(*armed) > TIMEOUT_SLACK {
        set(stream, Duration::from_nanos(left)).map_err(|e| io_error(&e))?;
        *armed = left;
    }
    Ok(true)
}

/// A reply parser of the protocol layer ([`protocol::parse`] or
/// [`protocol::parse_dataless`]).
type Parser = for<'b> fn(&'b [u8]) -> Result<Option<(Reply<'b>, usize)>>;

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// The errors of a connection the peer closed or reset.
fn is_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

fn io_error(e: &std::io::Error) -> Error {
    Error::new(Kind::Io, e.to_string())
}

fn connect_error(e: &std::io::Error, timeout: Duration) -> Error {
    if is_timeout(e) {
        Error::new(
            Kind::Timeout,
            format!("cannot connect within {} ms", timeout.as_millis()),
        )
    } else {
        Error::new(Kind::Io, format!("cannot connect: {e}"))
    }
}

mod send;
#[cfg(test)]
mod tests;
