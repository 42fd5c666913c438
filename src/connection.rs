//! One socket to one server: connect with a timeout, write requests, read
//! replies against a deadline. It only moves bytes; what they mean is the
//! protocol layer's business and what to send is the client's.
//!
//! A connection that fails in any way is dropped by its owner, never used
//! again: after a timeout or a parse error the stream's position is unknown,
//! and the next request would read the previous request's late reply.

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::error::{Error, Kind, Result};
use crate::protocol::{self, Reply};
use crate::server::Address;

/// Read buffer size for ordinary replies; a larger value is read into a
/// buffer grown to its exact size.
const READ_CHUNK: usize = 16 * 1024;

/// A read timeout is re-armed only when the operation's remaining time
/// differs from the armed one by more than this: it saves a `setsockopt` per
/// request at the cost of a deadline this much late at worst.
const TIMEOUT_SLACK: Duration = Duration::from_millis(5);

/// Incremented in every child right after `fork()`, so a connection can tell
/// it was inherited without a `getpid` system call per request.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

fn fork_generation() -> u64 {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic, which is
        // async-signal-safe as a child-side fork handler must be.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(t)),
            Stream::Unix(s) => s.set_read_timeout(Some(t)),
        }
    }

    fn set_write_timeout(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(t)),
            Stream::Unix(s) => s.set_write_timeout(Some(t)),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    fn write_vectored(&mut self, parts: &[IoSlice<'_>]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(parts),
            Stream::Unix(s) => s.write_vectored(parts),
        }
    }
}

/// An open connection with its read buffer.
pub struct Connection {
    stream: Stream,
    /// Bytes read and not yet consumed are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The read timeout currently armed on the socket.
    armed: Duration,
    /// The configured per-operation I/O timeout.
    io_timeout: Duration,
    fork_generation: u64,
    /// Bytes received during the current operation: zero after a failure
    /// means the server closed the connection before answering, so the
    /// request was never processed.
    received: usize,
}

impl Connection {
    /// Connects to `address`, giving up after `connect_timeout` per address
    /// tried. TCP connections get `TCP_NODELAY`: requests are written whole,
    /// so Nagle's algorithm would only add latency.
    pub fn open(
        address: &Address,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Connection> {
        let generation = fork_generation();
        let stream = match address {
            Address::Tcp { addrs, .. } => {
                let mut last = None;
                let mut stream = None;
                for addr in addrs {
                    match TcpStream::connect_timeout(addr, connect_timeout) {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let stream = match (stream, last) {
                    (Some(s), _) => s,
                    (None, Some(e)) => return Err(connect_error(&e, connect_timeout)),
                    (None, None) => return Err(Error::new(Kind::Io, "no address to connect to")),
                };
                stream.set_nodelay(true).map_err(|e| io_error(&e))?;
                Stream::Tcp(stream)
            }
            Address::Unix(path) => Stream::Unix(
                UnixStream::connect(path).map_err(|e| connect_error(&e, connect_timeout))?,
            ),
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
            armed: io_timeout,
            io_timeout,
            fork_generation: generation,
            received: 0,
        })
    }

    /// True when this process is a fork of the one that opened the
    /// connection: the parent may be using the same socket, so the child
    /// must close its copy without sending anything.
    pub fn is_inherited(&self) -> bool {
        self.fork_generation != FORK_GENERATION.load(Ordering::Relaxed)
    }

    /// True when the current operation failed before the server sent a byte
    /// (see `received`).
    pub fn nothing_received(&self) -> bool {
        self.received == 0
    }

    /// The deadline of an operation starting now.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.io_timeout
    }

    /// Writes all of `parts` (one `writev` unless the kernel takes less).
    pub fn send(&mut self, parts: &[&[u8]]) -> Result<()> {
        self.received = 0;
        let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match self.stream.write_vectored(slices) {
                Ok(0) => return Err(Error::new(Kind::Io, "connection closed while sending")),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    return Err(Error::new(
                        Kind::Timeout,
                        format!(
                            "server did not take the request within {} ms",
                            self.io_timeout.as_millis()
                        ),
                    ))
                }
                Err(e) => return Err(io_error(&e)),
            }
        }
        Ok(())
    }

    /// Reads until one whole reply is buffered, hands it to `handle`, and
    /// consumes it. A reply the protocol layer rejects is an error.
    pub fn read_reply<T>(
        &mut self,
        deadline: Instant,
        handle: impl FnOnce(Reply<'_>) -> T,
    ) -> Result<T> {
        loop {
            if let Some((reply, used)) = protocol::parse(&self.buf[self.start..self.end])? {
                let out = handle(reply);
                self.start += used;
                if self.start == self.end {
                    self.start = 0;
                    self.end = 0;
                }
                return Ok(out);
            }
            self.fill(deadline)?;
        }
    }

    /// Reads more bytes into the buffer, making room first: a big value's
    /// whole size is known from its header, so its buffer grows once.
    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let pending = &self.buf[self.start..self.end];
        let want = protocol::needed(pending).unwrap_or(pending.len() + READ_CHUNK / 2);
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
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(self.timeout());
        }
        if remaining + TIMEOUT_SLACK < self.armed || remaining > self.armed + TIMEOUT_SLACK {
            self.stream
                .set_read_timeout(remaining)
                .map_err(|e| io_error(&e))?;
            self.armed = remaining;
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    return Err(Error::new(
                        Kind::Io,
                        if self.received == 0 {
                            "connection closed by the server before it replied"
                        } else {
                            "connection closed by the server in the middle of a reply"
                        },
                    ))
                }
                Ok(n) => {
                    self.end += n;
                    self.received += n;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(self.timeout()),
                Err(e) => return Err(io_error(&e)),
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

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
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
